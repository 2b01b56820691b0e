"""The gates: from due sends to send / defer / suppress, each with the gate that decided.

A pure function over frames: the engine (:mod:`aftersale.decisions.engine`) hands it the sends
its journeys reached in this pass, for all customers in batch or for one customer in real
time. Same code, same answers. Gates run in this order, each only on rows still undecided:

1. **duplicate** – an idempotency key already decided earlier is not decided again;
2. **stale** – a send that fell due longer ago than ``policy.stale_after`` is not sent late;
3. **consent** – the first channel in the play's preference with a reachable address and
   consent for the purpose (marketing needs an opt-in; transactional only respects a hard
   opt-out);
4. **holdout** – the global control group (marketing only) and the play's own holdout, by a
   salted hash of the customer (stable across runs, machines and versions);
5. **suppression** – promotion blockers (open refund, angry ticket), goals never pursued while
   Red, referral asks only when Green;
6. **caps** – marketing messages per channel per day and per 7 days, from the history;
7. **quiet hours** – in the customer's time zone: deferred to the next allowed minute;
8. **arbitration** – at most ``marketing_per_day`` marketing messages per customer per day,
   highest priority first, ties by play id then step id; and the channel's remaining daily and
   weekly cap inside the pass.

Re-entry (once ever, once per order, every N days) is decided earlier, when a journey would
start (:mod:`aftersale.decisions.journeys`). The variant of an A/B play is drawn by the same
salted hash, so one customer always gets one variant of a play.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from aftersale.clock import ensure_utc
from aftersale.decisions.policy import Policy

__all__ = [
    "CANDIDATE_SCHEMA",
    "CHANNELS",
    "DECISION_COLUMNS",
    "HISTORY_SCHEMA",
    "apply_gates",
    "idempotency_key",
    "unit_hash",
]

CANDIDATE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "play_id": pl.String,
    "step_id": pl.String,
    "occurrence": pl.String,
    "journey_id": pl.String,
    "due_at": pl.Datetime("us", "UTC"),
    "order_id": pl.String,
    "product_id": pl.String,
    "purpose": pl.String,
    "goal": pl.String,
    "priority": pl.Int64,
    "channels": pl.List(pl.String),
    "holdout": pl.Float64,
    "variants": pl.List(pl.String),
    "variant_weights": pl.List(pl.Float64),
    "matched": pl.String,
}
HISTORY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "idempotency_key": pl.String,
    "customer_id": pl.String,
    "play_id": pl.String,
    "occurrence": pl.String,
    "channel": pl.String,
    "purpose": pl.String,
    "outcome": pl.String,
    "at": pl.Datetime("us", "UTC"),
}
DECISION_COLUMNS = (
    "idempotency_key",
    "customer_id",
    "play_id",
    "step_id",
    "occurrence",
    "journey_id",
    "order_id",
    "product_id",
    "purpose",
    "goal",
    "priority",
    "outcome",
    "gate",
    "reason",
    "channel",
    "variant",
    "send_at",
    "explanation",
)
CHANNELS = ("email", "sms", "push", "in_app", "webhook")


def idempotency_key(customer_id: str, play_id: str, step_id: str, occurrence: str) -> str:
    """The decision's identity: the same (customer, play, step, occurrence) is one decision."""
    text = "\x1f".join((customer_id, play_id, step_id, occurrence))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def unit_hash(salt: str, *parts: str) -> float:
    """A stable number in [0, 1) from the salt and the parts (BLAKE2b, not Python's hash)."""
    digest = hashlib.blake2b("\x1f".join((salt, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _suppress(frame: pl.DataFrame, when: pl.Expr, gate: str, reason: pl.Expr) -> pl.DataFrame:
    hit = pl.col("outcome").is_null() & when.fill_null(False)
    return frame.with_columns(
        outcome=pl.when(hit).then(pl.lit("suppress")).otherwise(pl.col("outcome")),
        gate=pl.when(hit).then(pl.lit(gate)).otherwise(pl.col("gate")),
        reason=pl.when(hit).then(reason).otherwise(pl.col("reason")),
    )


def _passed(frame: pl.DataFrame, gate: str) -> pl.DataFrame:
    return frame.with_columns(
        passed=pl.when(pl.col("outcome").is_null())
        .then(pl.col("passed").list.concat(pl.lit([gate])))
        .otherwise(pl.col("passed"))
    )


# -- gates ---------------------------------------------------------------------------------------
def _choose_channel(frame: pl.DataFrame) -> pl.DataFrame:
    """First channel in preference with an address and consent for the purpose."""
    choice: pl.Expr = pl.lit(None, dtype=pl.String)
    longest = frame["channels"].list.len().max()
    width = int(longest) if isinstance(longest, int) else 0
    for index in range(width - 1, -1, -1):
        candidate = pl.col("channels").list.get(index, null_on_oob=True)
        ok = pl.lit(False)
        for channel in CHANNELS:
            reach = pl.col(f"reachable_{channel}").fill_null(False)
            marketing = pl.col(f"consent_{channel}_marketing") == "opt_in"
            transactional = pl.col(f"consent_{channel}_transactional").fill_null("") != "opt_out"
            allowed = (
                pl.when(pl.col("purpose") == "marketing").then(marketing).otherwise(transactional)
            )
            ok = ok | ((candidate == channel) & reach & allowed.fill_null(False))
        choice = pl.when(ok).then(candidate).otherwise(choice)
    return frame.with_columns(channel=choice)


def _consent(frame: pl.DataFrame) -> pl.DataFrame:
    frame = _choose_channel(frame)
    reason = pl.concat_str(
        pl.lit("no reachable channel with "),
        pl.col("purpose"),
        pl.lit(" consent among "),
        pl.col("channels").list.join(", "),
    )
    return _passed(_suppress(frame, pl.col("channel").is_null(), "consent", reason), "consent")


def _holdouts(frame: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    control = frame["customer_id"].map_elements(
        lambda c: unit_hash(policy.salt, "global", c), return_dtype=pl.Float64
    )
    play_u = pl.Series(
        [
            unit_hash(policy.salt, "play", p, c)
            for p, c in zip(frame["play_id"], frame["customer_id"], strict=True)
        ],
        dtype=pl.Float64,
    )
    frame = frame.with_columns(_control_u=control, _play_u=play_u)
    frame = _suppress(
        frame,
        (pl.col("purpose") == "marketing") & (pl.col("_control_u") < policy.global_holdout),
        "global_holdout",
        pl.lit(f"in the global control group ({policy.global_holdout:.0%} get no marketing)"),
    )
    frame = _suppress(
        frame,
        pl.col("_play_u") < pl.col("holdout"),
        "play_holdout",
        pl.concat_str(
            pl.lit("in the play's holdout ("),
            (pl.col("holdout") * 100).round(1).cast(pl.String),
            pl.lit("%)"),
        ),
    )
    return _passed(frame.drop("_control_u", "_play_u"), "holdout")


def _suppressions(frame: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    marketing = pl.col("purpose") == "marketing"
    for flag in policy.promotion_blockers:
        if flag in frame.columns:
            frame = _suppress(
                frame,
                marketing & pl.col(flag).fill_null(False),
                "suppression",
                pl.lit(f"no promotion while {flag.replace('_', ' ')}"),
            )
    red = pl.col("health_grade") == "red"
    frame = _suppress(
        frame,
        red & pl.col("goal").is_in(policy.red_blocks_goals),
        "suppression",
        pl.concat_str(pl.lit("health is Red; no "), pl.col("goal"), pl.lit(" messages")),
    )
    if policy.referral_needs_green:
        frame = _suppress(
            frame,
            (pl.col("goal") == "referral") & (pl.col("health_grade").fill_null("") != "green"),
            "suppression",
            pl.concat_str(
                pl.lit("health is "), pl.col("health_grade").fill_null("unknown"),
                pl.lit("; referral asks need Green"),
            ),
        )  # fmt: skip
    return _passed(frame, "suppression")


def _stale(frame: pl.DataFrame, policy: Policy, as_of: datetime) -> pl.DataFrame:
    limit = as_of - policy.stale_after
    reason = pl.concat_str(
        pl.lit("fell due at "), pl.col("due_at").dt.strftime("%Y-%m-%d %H:%M UTC"),
        pl.lit(f", more than {policy.stale_after} before this pass; not sent late"),
    )  # fmt: skip
    return _passed(_suppress(frame, pl.col("due_at") < limit, "stale", reason), "stale")


def _caps(
    frame: pl.DataFrame, history: pl.DataFrame, policy: Policy, as_of: datetime
) -> pl.DataFrame:
    sent = history.filter(
        (pl.col("purpose") == "marketing")
        & pl.col("outcome").is_in(["send", "defer"])
        & (pl.col("at") < as_of)
    )
    day = sent.filter(pl.col("at") >= as_of - timedelta(days=1))
    week = sent.filter(pl.col("at") >= as_of - timedelta(days=7))
    by_channel = (
        week.group_by(["customer_id", "channel"])
        .agg(_week=pl.len())
        .join(day.group_by(["customer_id", "channel"]).agg(_day=pl.len()),
              on=["customer_id", "channel"], how="left")
    )  # fmt: skip
    today = day.group_by("customer_id").agg(_today=pl.len())
    caps = pl.DataFrame(
        {
            "channel": list(policy.caps),
            "_cap_day": [c.day for c in policy.caps.values()],
            "_cap_week": [c.week for c in policy.caps.values()],
        },
        schema={"channel": pl.String, "_cap_day": pl.Int64, "_cap_week": pl.Int64},
    )
    frame = (
        frame.join(by_channel, on=["customer_id", "channel"], how="left")
        .join(today, on="customer_id", how="left")
        .join(caps, on="channel", how="left")
        .with_columns(
            # signed: "per day minus today" goes below zero when the history is over the slot
            _day=pl.col("_day").fill_null(0).cast(pl.Int64),
            _week=pl.col("_week").fill_null(0).cast(pl.Int64),
            _today=pl.col("_today").fill_null(0).cast(pl.Int64),
        )
    )
    marketing = pl.col("purpose") == "marketing"
    over = marketing & (
        (pl.col("_day") >= pl.col("_cap_day")) | (pl.col("_week") >= pl.col("_cap_week"))
    )
    reason = pl.concat_str(
        pl.col("channel"), pl.lit(" cap reached: "), pl.col("_day").cast(pl.String),
        pl.lit(" today (max "), pl.col("_cap_day").cast(pl.String), pl.lit("), "),
        pl.col("_week").cast(pl.String), pl.lit(" this week (max "),
        pl.col("_cap_week").cast(pl.String), pl.lit(")"),
    )  # fmt: skip
    frame = _suppress(frame, over, "cap", reason)
    return _passed(frame, "cap")


def _quiet_hours(frame: pl.DataFrame, policy: Policy, as_of: datetime) -> pl.DataFrame:
    quiet = policy.quiet_hours
    zones = frame["time_zone"].fill_null(quiet.default_time_zone).unique().to_list()
    rows = []
    for zone in zones:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo(quiet.default_time_zone)
        local = as_of.astimezone(tz)
        now = local.time()
        if quiet.start > quiet.end:
            is_quiet = now >= quiet.start or now < quiet.end
        else:
            is_quiet = quiet.start <= now < quiet.end
        resume = None
        if is_quiet:
            day = local.date() if now < quiet.end else local.date() + timedelta(days=1)
            resume = datetime.combine(day, quiet.end, tzinfo=tz).astimezone(
                ensure_utc(as_of).tzinfo
            )
        rows.append((zone, is_quiet, resume))
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "_zone": pl.String,
        "_quiet": pl.Boolean,
        "_resume": pl.Datetime("us", "UTC"),
    }
    table = pl.DataFrame(rows, schema=schema, orient="row")
    frame = frame.with_columns(_zone=pl.col("time_zone").fill_null(quiet.default_time_zone))
    frame = frame.join(table, on="_zone", how="left")
    defer = (
        pl.col("outcome").is_null()
        & pl.col("channel").is_in(quiet.channels)
        & pl.col("_quiet").fill_null(False)
    )
    frame = frame.with_columns(
        outcome=pl.when(defer).then(pl.lit("defer")).otherwise(pl.col("outcome")),
        gate=pl.when(defer).then(pl.lit("quiet_hours")).otherwise(pl.col("gate")),
        reason=pl.when(defer)
        .then(pl.concat_str(pl.lit("quiet hours in "), pl.col("_zone"),
                            pl.lit(f" ({quiet.start:%H:%M}-{quiet.end:%H:%M}); deferred")))
        .otherwise(pl.col("reason")),
        send_at=pl.when(defer).then(pl.col("_resume")).otherwise(pl.col("send_at")),
    )  # fmt: skip
    return _passed(frame.drop("_zone", "_quiet", "_resume"), "quiet_hours")


def _arbitrate(frame: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    live = pl.col("outcome").is_null() | (pl.col("outcome") == "defer")
    marketing = pl.col("purpose") == "marketing"
    frame = frame.with_columns(_live=live & marketing).sort(
        ["customer_id", "priority", "play_id", "step_id"], descending=[False, True, False, False]
    )
    frame = frame.with_columns(
        _slot=pl.when(pl.col("_live"))
        .then(pl.col("_live").cast(pl.Int64).cum_sum().over("customer_id"))
        .otherwise(None),
    )
    frame = frame.with_columns(
        _channel_slot=pl.when(
            pl.col("_live") & (pl.col("_slot") <= policy.marketing_per_day - pl.col("_today"))
        )
        .then(pl.int_range(pl.len()).over(["customer_id", "channel", "_live"]) + 1)
        .otherwise(None)
    )
    winner = frame.filter(pl.col("_live") & (pl.col("_slot") == 1)).select(
        "customer_id", _winner=pl.col("play_id")
    )
    frame = frame.join(winner, on="customer_id", how="left")
    lost_slot = pl.col("_live") & (pl.col("_slot") > policy.marketing_per_day - pl.col("_today"))
    lost_cap = pl.col("_live") & (
        (pl.col("_day") + pl.col("_channel_slot") > pl.col("_cap_day"))
        | (pl.col("_week") + pl.col("_channel_slot") > pl.col("_cap_week"))
    ).fill_null(False)
    reason = (
        pl.when(pl.col("_today") >= policy.marketing_per_day)
        .then(pl.lit(f"already had {policy.marketing_per_day} marketing message(s) today"))
        .otherwise(pl.concat_str(pl.lit("lost the day's slot to play "), pl.col("_winner")))
    )
    for expr, why in (
        (lost_slot, reason),
        (lost_cap, pl.lit("channel cap reached within this pass")),
    ):
        hit = expr.fill_null(False)
        frame = frame.with_columns(
            outcome=pl.when(hit).then(pl.lit("suppress")).otherwise(pl.col("outcome")),
            gate=pl.when(hit).then(pl.lit("arbitration")).otherwise(pl.col("gate")),
            reason=pl.when(hit).then(why).otherwise(pl.col("reason")),
            _live=pl.col("_live") & ~hit,
        )
    return frame


def _variants(frame: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    picks: list[str | None] = []
    for customer, play, names, weights in frame.select(
        "customer_id", "play_id", "variants", "variant_weights"
    ).iter_rows():
        if not names:
            picks.append(None)
            continue
        u = unit_hash(policy.salt, "variant", play, customer) * sum(weights)
        total = 0.0
        chosen = names[-1]
        for name, weight in zip(names, weights, strict=True):
            total += weight
            if u < total:
                chosen = name
                break
        picks.append(chosen)
    return frame.with_columns(variant=pl.Series(picks, dtype=pl.String))


def apply_gates(
    candidates: pl.DataFrame,
    customers: pl.DataFrame,
    history: pl.DataFrame,
    policy: Policy,
    as_of: datetime,
) -> pl.DataFrame:
    """Gate every due send at ``as_of``: one row per new decision (see the module doc)."""
    moment = ensure_utc(as_of)
    cands = candidates.with_columns(
        idempotency_key=pl.Series(
            [idempotency_key(*row) for row in candidates.select(
                "customer_id", "play_id", "step_id", "occurrence").iter_rows()],
            dtype=pl.String,
        )
    )  # fmt: skip
    known = history["idempotency_key"].unique() if len(history) else pl.Series([], dtype=pl.String)
    cands = cands.filter(~pl.col("idempotency_key").is_in(known.implode()))
    frame = cands.join(customers, on="customer_id", how="left").with_columns(
        outcome=pl.lit(None, dtype=pl.String),
        gate=pl.lit(None, dtype=pl.String),
        reason=pl.lit(None, dtype=pl.String),
        send_at=pl.lit(moment, dtype=pl.Datetime("us", "UTC")),
        passed=pl.lit([], dtype=pl.List(pl.String)),
    )
    for channel in CHANNELS:
        for column in (f"reachable_{channel}", f"consent_{channel}_marketing",
                       f"consent_{channel}_transactional"):  # fmt: skip
            if column not in frame.columns:
                dtype = pl.Boolean if column.startswith("reachable") else pl.String
                frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(column))
    for column, dtype in (("time_zone", pl.String), ("health_grade", pl.String)):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(column))
    frame = _stale(frame, policy, moment)
    frame = _consent(frame)
    frame = _holdouts(frame, policy)
    frame = _suppressions(frame, policy)
    frame = _caps(frame, history, policy, moment)
    frame = _quiet_hours(frame, policy, moment)
    frame = _arbitrate(frame, policy)
    frame = _variants(frame, policy)
    frame = frame.with_columns(
        outcome=pl.col("outcome").fill_null("send"),
        reason=pl.col("reason").fill_null(
            pl.concat_str(pl.lit("send on "), pl.col("channel"))
        ),
        explanation=pl.concat_str(
            pl.col("matched").fill_null(""), pl.lit(" | gates passed: "),
            pl.col("passed").list.join(", "),
        ),
    )  # fmt: skip
    frame = frame.with_columns(
        send_at=pl.when(pl.col("outcome") == "suppress").then(None).otherwise(pl.col("send_at")),
    )
    return frame.select(DECISION_COLUMNS).sort(["customer_id", "play_id", "step_id", "occurrence"])
