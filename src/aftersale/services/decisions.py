"""Decision use-cases: run a pass (batch or for a few customers), explain one customer, backtest.

A pass reads the snapshot at ``as_of`` (``aftersale segment`` makes it), gathers the facts with
set-based queries (:mod:`aftersale.decisions.facts`), runs the pure engine
(:func:`aftersale.decisions.engine.decide`) and stores decisions, outbox rows and journeys in
one state-store transaction (:class:`aftersale.store.decision_log.DecisionLog`). Passes move
forward in time; re-running the latest ``as_of`` changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa
from pydantic import ValidationError

from aftersale.clock import Clock, SystemClock, ensure_utc
from aftersale.config import Settings, load_settings
from aftersale.decisions.engine import (
    CONSENT_SCHEMA,
    PassInputs,
    PassResult,
    PolicyState,
    decide,
    empty_state,
)
from aftersale.decisions.explain import (
    PlayVerdict,
    evaluate,
    judge_plays,
    one_customer,
    trigger_text,
)
from aftersale.decisions.facts import (
    ENTRY_SCHEMA,
    WAIT_SCHEMA,
    Tables,
    customer_facts,
    entries,
    waited_events,
)
from aftersale.decisions.gates import HISTORY_SCHEMA
from aftersale.decisions.journeys import JOURNEY_SCHEMA
from aftersale.decisions.policy import Policy
from aftersale.decisions.program import compile_play
from aftersale.errors import ConfigError, InvalidInputError, StorageError
from aftersale.features.definitions import standard_registry
from aftersale.playbooks.load import LoadedPlaybook, default_playbook, load_playbook
from aftersale.playbooks.schema import Play, Playbook
from aftersale.segments.config import load_segmentation
from aftersale.store.decision_log import DecisionLog, PassRecord
from aftersale.store.snapshots import FEATURES, SEGMENTS, SnapshotStore
from aftersale.store.sql import fetch_arrow
from aftersale.store.state import StateStore
from aftersale.store.warehouse import Warehouse

__all__ = [
    "BacktestReport",
    "DecisionPass",
    "Engine",
    "WhyReport",
    "backtest",
    "gather",
    "load_policy",
    "project_playbook",
    "run_decisions",
    "why",
]

Progress = Callable[[str, int, int], None]
HISTORY_DAYS = 8
"""Days of earlier decisions the gates read (the weekly caps look back 7)."""


def load_policy(settings: Settings) -> Policy:
    """The project's contact policy (``[decisions.policy]``), errors naming the key."""
    try:
        return Policy(**settings.decisions.policy)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = "decisions.policy." + ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"invalid setting {key}: {err['msg']}", key=key) from exc


def project_playbook(settings: Settings) -> LoadedPlaybook:
    """The playbook the project runs: ``[decisions] playbook`` or the packaged default."""
    cfg = load_segmentation(settings.segmentation.file)
    registry = standard_registry(cfg.signals)
    if settings.decisions.playbook is None:
        return default_playbook(registry)
    return load_playbook(settings.decisions.playbook, registry)


def playbook_digest(playbook: Playbook) -> str:
    """A short fingerprint of the playbook's content (recorded with every pass)."""
    text = playbook.model_dump_json(by_alias=True)
    return f"{playbook.name}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def tables_at(store: SnapshotStore, as_of: datetime, since: datetime | None) -> Tables:
    """The warehouse tables a pass at ``as_of`` reads (the snapshot must exist)."""
    runs = store.runs()
    moment = ensure_utc(as_of)
    if store.run_at(moment) is None:
        stored = ", ".join(r.as_of.isoformat() for r in runs[-5:]) or "none"
        raise InvalidInputError(
            f"no snapshot at {moment.isoformat()} (stored: {stored}); "
            "run `aftersale segment --as-of ...` first"
        )
    features = store.table_at(FEATURES, moment)
    segments = store.table_at(SEGMENTS, moment)
    dupes = [c for c in segments.columns if c in features.columns and c != "customer_id"]
    snapshot = features.join(segments.drop(*dupes), "customer_id")
    earlier = [r for r in runs if r.as_of < moment]
    if since is not None:
        earlier = [r for r in earlier if r.as_of <= ensure_utc(since)] or earlier[-1:]
    previous = store.table_at(SEGMENTS, earlier[-1].as_of) if earlier else None
    con = store.con
    return Tables(
        snapshot=snapshot,
        customers=con.table("customers"),
        orders=con.table("orders"),
        events=con.table("events"),
        previous=previous,
    )


_WAITS = ("wait", "wait_until")
IDS_TABLE = "_aftersale_pass_customers"
"""Temporary warehouse table holding the customers one pass is about."""

StageIds = Callable[[Sequence[str]], ir.Table]


def stage_ids_in(con: Any) -> StageIds:
    """A function that stores customer ids in a temporary table of ``con`` and returns it."""

    def stage(ids: Sequence[str]) -> ir.Table:
        data = pa.table({"customer_id": pa.array(sorted(set(ids)), pa.string())})
        return con.create_table(IDS_TABLE, data, temp=True, overwrite=True)

    return stage


@dataclass
class Engine:
    """A loaded playbook and policy, ready to run passes; keeps the SQL it compiled.

    The queries of a pass depend on the window (``since``, ``as_of``) and on whether they are
    restricted to staged customers, not on which customers: the SQL compiled for one customer's
    real-time pass is reused for the next customer's (only the staged ids change), so the
    incremental path costs milliseconds instead of an Ibis compile each time.
    """

    playbook: Playbook
    policy: Policy
    _sql: dict[tuple[Any, ...], str] = field(default_factory=dict, repr=False)

    @property
    def plays(self) -> list[Play]:
        """The enabled plays."""
        return [p for p in self.playbook.plays if p.enabled]

    def _query(
        self,
        key: tuple[Any, ...],
        build: Callable[[], ir.Table | None],
        schema: dict[str, Any],
        backend: Any,
    ) -> pl.DataFrame:
        sql = self._sql.get(key)
        if sql is None:
            expr = build()
            if expr is None:
                self._sql[key] = ""
                return pl.DataFrame(schema=schema)
            sql = self._sql[key] = str(ibis.to_sql(expr, dialect=backend.name))
        if not sql:
            return pl.DataFrame(schema=schema)
        frame = pl.from_arrow(fetch_arrow(backend, sql))
        assert isinstance(frame, pl.DataFrame)
        return frame.cast({k: v for k, v in schema.items() if k in frame.columns})

    def inputs(
        self,
        tables: Tables,
        state: PolicyState,
        since: datetime | None,
        as_of: datetime,
        customer_ids: Sequence[str] | None,
        consents: Callable[[Sequence[str] | None], pl.DataFrame],
        stage_ids: StageIds,
    ) -> PassInputs:
        """Run one pass's set-based queries on the warehouse and return their results."""
        backend = ibis.get_backend(tables.snapshot)
        plays = self.plays
        window = (ensure_utc(as_of), since and ensure_utc(since), tables.previous is not None)
        ids = None if customer_ids is None else stage_ids(customer_ids)
        scope = "all" if ids is None else "staged"
        entered = self._query(
            ("entries", scope, *window),
            lambda: entries(plays, tables, since, as_of, ids),
            ENTRY_SCHEMA,
            backend,
        )
        active = state.journeys.filter(pl.col("status") == "active")
        if customer_ids is not None:
            active = active.filter(pl.col("customer_id").is_in(list(customer_ids)))
        involved = pl.concat(
            [entered.select("customer_id"), active.select("customer_id")], how="vertical"
        ).unique()
        if involved.is_empty():
            return PassInputs(entered, pl.DataFrame(schema={"customer_id": pl.String}),
                              pl.DataFrame(schema=CONSENT_SCHEMA),
                              pl.DataFrame(schema=WAIT_SCHEMA))  # fmt: skip
        if ids is None:
            ids = stage_ids(involved["customer_id"].to_list())
        who = ids
        facts = self._query(
            ("facts", *window),
            lambda: customer_facts(plays, self.policy, tables, as_of, who),
            {},
            backend,
        )
        start = ensure_utc(as_of) - self.wait_reach()
        waited = self._query(
            ("waited", *window),
            lambda: waited_events(plays, tables, start, as_of, who),
            WAIT_SCHEMA,
            backend,
        )
        listed = None if customer_ids is None else list(customer_ids)
        return PassInputs(entered, facts, consents(listed), waited)

    def wait_reach(self) -> timedelta:
        """How far back an awaited event can matter: the longest run of waits in a play."""
        longest = 0.0
        for play in self.plays:
            program = compile_play(play)
            longest = max(longest, sum(i.seconds for i in program if i.kind in _WAITS))
        return timedelta(seconds=longest) + timedelta(days=1)

    def run(self, inputs: PassInputs, state: PolicyState, as_of: datetime) -> PassResult:
        """The pure pass."""
        return decide(inputs, self.playbook, state, self.policy, as_of)


def gather(
    playbook: Playbook,
    policy: Policy,
    tables: Tables,
    state: PolicyState,
    since: datetime | None,
    as_of: datetime,
    customer_ids: Sequence[str] | None,
    consents: Callable[[Sequence[str] | None], pl.DataFrame],
) -> PassInputs:
    """Run the set-based queries of one pass once (no compiled-SQL reuse; see :class:`Engine`)."""
    backend = ibis.get_backend(tables.snapshot)
    engine = Engine(playbook, policy)
    return engine.inputs(tables, state, since, as_of, customer_ids, consents,
                         stage_ids_in(backend))  # fmt: skip


@dataclass(slots=True)
class DecisionPass:
    """What one stored pass did."""

    as_of: datetime
    since: datetime | None
    mode: str
    playbook: str
    counts: dict[str, int]
    new_decisions: int
    decisions: pl.DataFrame = field(repr=False)
    not_entered: pl.DataFrame = field(repr=False)

    def by_play(self) -> dict[str, dict[str, int]]:
        """Decisions per play and outcome."""
        out: dict[str, dict[str, int]] = {}
        for play, outcome, n in (
            self.decisions.group_by("play_id", "outcome").len().sort("play_id").iter_rows()
        ):
            out.setdefault(str(play), {})[str(outcome)] = int(n)
        return out

    def by_gate(self) -> dict[str, int]:
        """Suppressions and deferrals per gate."""
        kept = self.decisions.filter(pl.col("gate").is_not_null())
        return {str(g): int(n) for g, n in kept.group_by("gate").len().sort("gate").iter_rows()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "as_of": self.as_of.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "mode": self.mode,
            "playbook": self.playbook,
            "counts": self.counts,
            "new_decisions": self.new_decisions,
            "by_play": self.by_play(),
            "by_gate": self.by_gate(),
        }


def _stored_state(
    log: DecisionLog, as_of: datetime, customer_ids: Sequence[str] | None
) -> PolicyState:
    journeys = log.journeys(customer_ids, schema=JOURNEY_SCHEMA)
    history = log.history(
        ensure_utc(as_of) - timedelta(days=HISTORY_DAYS), customer_ids, schema=HISTORY_SCHEMA
    )
    return PolicyState(journeys, history)


def run_decisions(
    settings: Settings | None = None,
    as_of: datetime | None = None,
    *,
    customer_ids: Sequence[str] | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> DecisionPass:
    """Decide for every customer (or only ``customer_ids``) at ``as_of`` and store it all.

    ``as_of`` defaults to the latest snapshot. A pass before the latest stored pass is refused
    (use :func:`backtest` for history); the latest one may be re-run and changes nothing.
    """
    settings = settings or load_settings()
    clock = clock or SystemClock()
    step = progress or (lambda _s, _d, _t: None)
    if engine is None:
        engine = Engine(project_playbook(settings).playbook, load_policy(settings))
    started = clock.now()
    with Warehouse(settings.warehouse) as warehouse, StateStore.from_settings(settings) as state:
        warehouse.require_initialised()
        store = SnapshotStore(warehouse)
        log = DecisionLog(state)
        if as_of is None:
            runs = store.runs()
            if not runs:
                raise StorageError("no snapshot yet; run `aftersale segment` first")
            as_of = runs[-1].as_of
        moment = ensure_utc(as_of)
        latest = log.latest_pass()
        if latest is not None and latest.as_of > moment:
            raise InvalidInputError(
                f"a pass at {latest.as_of.isoformat()} is already stored; passes move forward "
                f"in time (asked for {moment.isoformat()}); use `aftersale backtest` for history"
            )
        since = log.previous_as_of(moment)
        step("deciding", 0, 3)
        tables = tables_at(store, moment, since)
        mode = "batch" if customer_ids is None else "incremental"
        if customer_ids is None:
            state_now = _stored_state(log, moment, None)
        else:
            state_now = _stored_state(log, moment, list(customer_ids))

        def consents(ids: Sequence[str] | None) -> pl.DataFrame:
            return log.consents(ids, moment).cast(CONSENT_SCHEMA)  # type: ignore[arg-type]

        inputs = engine.inputs(tables, state_now, since, moment, customer_ids, consents,
                               stage_ids_in(warehouse.con))  # fmt: skip
        step("deciding", 1, 3)
        result = engine.run(inputs, state_now, moment)
        step("deciding", 2, 3)
        counts = result.counts()
        digest = playbook_digest(engine.playbook)
        record = PassRecord(
            pass_id=_pass_id(moment, mode, customer_ids, clock.now()),
            as_of=moment,
            mode=mode,
            started_at=started,
            finished_at=clock.now(),
            playbook=digest,
            customers=int(inputs.facts.height),
            counts=counts,
        )
        new = log.record(record, result.decisions, result.journeys)
        step("deciding", 3, 3)
    return DecisionPass(moment, since, mode, digest, counts, new, result.decisions,
                        result.not_entered)  # fmt: skip


def _pass_id(as_of: datetime, mode: str, customer_ids: Sequence[str] | None, now: datetime) -> str:
    who = "all" if customer_ids is None else ",".join(sorted(customer_ids))
    text = "\x1f".join((as_of.isoformat(), mode, who, ensure_utc(now).isoformat()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def in_memory_pass(
    engine: Engine,
    store: SnapshotStore,
    state: PolicyState,
    consents: Callable[[Sequence[str] | None], pl.DataFrame],
    since: datetime | None,
    as_of: datetime,
    customer_ids: Sequence[str] | None = None,
) -> tuple[PassResult, PolicyState]:
    """One pass whose state lives in memory (backtests, benchmarks): result and next state."""
    moment = ensure_utc(as_of)
    tables = tables_at(store, moment, since)
    inputs = engine.inputs(tables, state, since, moment, customer_ids, consents,
                           stage_ids_in(store.con))  # fmt: skip
    result = engine.run(inputs, state, moment)
    journeys = pl.concat(
        [state.journeys.join(result.journeys.select("journey_id"), on="journey_id", how="anti"),
         result.journeys], how="vertical",
    )  # fmt: skip
    history = pl.concat([state.history, result.history_rows()], how="vertical")
    return result, PolicyState(journeys, history)


# -- why ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class WhyReport:
    """Why one customer got what they got at ``as_of``, and why not the other plays."""

    customer_id: str
    as_of: datetime
    segments: dict[str, Any]
    decisions: list[dict[str, Any]]
    journeys: list[dict[str, Any]]
    verdicts: list[PlayVerdict]
    triggers: dict[str, str]

    def near_misses(self) -> list[PlayVerdict]:
        """Plays without a journey whose audience the customer misses by exactly one part."""
        started = {j["play_id"] for j in self.journeys}
        return [v for v in self.verdicts if v.play_id not in started and len(v.failed) == 1]

    def waiting_for_trigger(self) -> list[PlayVerdict]:
        """Plays whose audience the customer is in, without a journey yet."""
        started = {j["play_id"] for j in self.journeys}
        return [v for v in self.verdicts if v.play_id not in started and v.in_audience]

    def far(self) -> list[PlayVerdict]:
        """Plays the customer misses by two parts or more."""
        started = {j["play_id"] for j in self.journeys}
        return [v for v in self.verdicts if v.play_id not in started and len(v.failed) > 1]

    def text(self) -> str:
        """The explanation as plain text (what ``aftersale why`` prints)."""
        seg = self.segments
        lines = [
            f"Customer {self.customer_id} at {self.as_of:%Y-%m-%d %H:%M} UTC",
            "Segments: " + ", ".join(f"{k}={_plain(v)}" for k, v in seg.items()),
            "",
            "Decisions (the 7 days up to as_of):",
        ]
        if not self.decisions:
            lines.append("  none")
        for d in self.decisions:
            where = f" on {d['channel']}" if d["channel"] else ""
            said = "" if d["outcome"] == "send" else f" — {d['reason']}"
            lines.append(
                f"  {d['decided_at']:%Y-%m-%d} {d['play_id']}/{d['step_id']}: "
                f"{d['outcome']}{where}{said}"
            )
            lines.append(f"    because: {d['explanation']}")
        lines += ["", "Journeys:"]
        if not self.journeys:
            lines.append("  none")
        for j in self.journeys:
            state = j["status"]
            if state == "active":
                due = f"{j['due_at']:%Y-%m-%d %H:%M}" if j["due_at"] else "-"
                state += f", next {j['step_id'] or 'start'} due {due}"
            else:
                state += f" ({j['exit_reason']})"
            lines.append(f"  {j['play_id']} [{j['occurrence']}]: {state}")
            lines.append(f"    entered on {j['trigger']}; path: {j['path'] or '-'}")
        lines += ["", "Near misses (one audience part away):"]
        near = self.near_misses()
        if not near:
            lines.append("  none")
        for v in sorted(near, key=lambda v: (-v.priority, v.play_id)):
            lines.append(f"  {v.play_id}: not entered — {v.failed[0].detail}")
        waiting = self.waiting_for_trigger()
        lines += ["", "In the audience, waiting for the trigger:"]
        if not waiting:
            lines.append("  none")
        for v in sorted(waiting, key=lambda v: (-v.priority, v.play_id)):
            lines.append(f"  {v.play_id}: {self.triggers[v.play_id]}")
        far = self.far()
        lines += ["", f"Further away ({len(far)} plays, two or more audience parts missing):"]
        for v in sorted(far, key=lambda v: v.play_id):
            lines.append(f"  {v.play_id}: " + "; ".join(c.detail for c in v.failed))
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "customer_id": self.customer_id,
            "as_of": self.as_of.isoformat(),
            "segments": {k: _plain(v) for k, v in self.segments.items()},
            "decisions": [{k: _plain(v) for k, v in d.items()} for d in self.decisions],
            "journeys": [{k: _plain(v) for k, v in j.items()} for j in self.journeys],
            "plays": [
                {
                    "play_id": v.play_id,
                    "in_audience": v.in_audience,
                    "trigger": self.triggers[v.play_id],
                    "checks": [{"part": c.label, "ok": c.ok, "detail": c.detail} for c in v.checks],
                }
                for v in self.verdicts
            ],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


WHY_SEGMENTS = ("lifecycle", "slice", "slice_confidence", "health_grade", "persona", "value_tier",
                "rfm_cell")  # fmt: skip


def why(
    customer_id: str, as_of: datetime | None = None, settings: Settings | None = None
) -> WhyReport:
    """Explain one customer at ``as_of`` (default: the latest pass, else the latest snapshot)."""
    settings = settings or load_settings()
    playbook = project_playbook(settings).playbook
    plays = [p for p in playbook.plays if p.enabled]
    with Warehouse(settings.warehouse) as warehouse, StateStore.from_settings(settings) as state:
        warehouse.require_initialised()
        store = SnapshotStore(warehouse)
        log = DecisionLog(state)
        runs = store.runs()
        if not runs:
            raise StorageError("no snapshot yet; run `aftersale segment` first")
        if as_of is None:
            latest = log.latest_pass()
            as_of = latest.as_of if latest is not None else runs[-1].as_of
        moment = ensure_utc(as_of)
        usable = [r for r in runs if r.as_of <= moment]
        if not usable:
            raise InvalidInputError(f"no snapshot at or before {moment.isoformat()}")
        tables = tables_at(store, usable[-1].as_of, None)
        mine = one_customer(tables.snapshot, customer_id)
        rows = mine.to_pyarrow().to_pylist()
        if not rows:
            raise InvalidInputError(
                f"customer {customer_id!r} is not in the snapshot at "
                f"{usable[-1].as_of.isoformat()} (only customers with a purchase before as_of are)"
            )
        row = rows[0]
        verdicts = judge_plays(plays, row, evaluate(plays, mine))
        week = moment - timedelta(days=7)
        decided = [d for d in log.decisions_for(customer_id) if week < d["decided_at"] <= moment]
        journeys = (
            log.journeys([customer_id], schema=JOURNEY_SCHEMA)
            .filter(pl.col("entered_at") < moment)
            .sort("entered_at", "play_id")
            .to_dicts()
        )
    return WhyReport(
        customer_id,
        moment,
        {k: row.get(k) for k in WHY_SEGMENTS},
        decided,
        journeys,
        verdicts,
        {p.id: trigger_text(p, row) for p in plays},
    )


# -- backtest -----------------------------------------------------------------------------------
_PER_WEEK = {
    "play_id": pl.String,
    "channel": pl.String,
    "messages": pl.Int64,
    "per_customer_week": pl.Float64,
}


@dataclass(slots=True)
class BacktestReport:
    """Decisions replayed day by day on history, before anything goes live."""

    start: datetime
    end: datetime
    days: list[datetime]
    customers: int
    decisions: pl.DataFrame = field(repr=False)
    not_entered: pl.DataFrame = field(repr=False)

    @property
    def weeks(self) -> float:
        """Length of the replay in weeks (at least one day)."""
        span = max(len(self.days), 1)
        return span / 7.0

    def messages_per_customer_week(self) -> pl.DataFrame:
        """Messages (sends and deferrals) per customer per week, by channel and play."""
        going = self.decisions.filter(pl.col("outcome") != "suppress")
        if going.is_empty():
            return pl.DataFrame(schema=_PER_WEEK)
        scale = max(self.customers, 1) * self.weeks
        return (
            going.group_by("play_id", "channel").agg(messages=pl.len().cast(pl.Int64))
            .with_columns(per_customer_week=pl.col("messages") / scale)
            .sort("messages", "play_id", "channel", descending=[True, False, False])
        )  # fmt: skip

    def busiest_customers(self) -> dict[str, float]:
        """The most messages any one customer got in a week, and the mean per messaged week."""
        going = self.decisions.filter(pl.col("outcome") != "suppress")
        if going.is_empty():
            return {"max_per_week": 0.0, "mean_per_messaged_week": 0.0}
        weekly = going.group_by("customer_id", pl.col("as_of").dt.truncate("1w")).len()
        counts = weekly["len"].cast(pl.Float64).to_list()
        return {
            "max_per_week": max(counts),
            "mean_per_messaged_week": sum(counts) / len(counts),
        }

    def by_gate(self) -> dict[str, int]:
        """Suppressions and deferrals per gate (cap hits are ``cap`` and ``arbitration``)."""
        kept = self.decisions.filter(pl.col("gate").is_not_null())
        return {str(g): int(n) for g, n in kept.group_by("gate").len().sort("gate").iter_rows()}

    def by_outcome(self) -> dict[str, int]:
        """Decisions per outcome."""
        return {
            str(o): int(n)
            for o, n in self.decisions.group_by("outcome").len().sort("outcome").iter_rows()
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": len(self.days),
            "customers": self.customers,
            "by_outcome": self.by_outcome(),
            "by_gate": self.by_gate(),
            "busiest": self.busiest_customers(),
            "per_customer_week": self.messages_per_customer_week().to_dicts(),
            "not_entered": self.not_entered.height,
        }


def backtest(
    settings: Settings | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    step: timedelta = timedelta(days=1),
    *,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> BacktestReport:
    """Replay passes from ``start`` to ``end`` every ``step`` on history, point in time.

    Each day gets its snapshot (made if missing: stored in the warehouse like any snapshot)
    and a pass whose state lives in memory: nothing is written to the state store and nothing
    is sent. Consents are read as they were recorded before each day.
    """
    from aftersale.services.segments import snapshot

    settings = settings or load_settings()
    if start is None or end is None:
        raise InvalidInputError("backtest needs --from and --to dates")
    first, last = ensure_utc(start), ensure_utc(end)
    if last < first:
        raise InvalidInputError(f"--to {last.date()} is before --from {first.date()}")
    if step <= timedelta(0):
        raise InvalidInputError("--step must be longer than zero")
    days = []
    moment = first
    while moment <= last:
        days.append(moment)
        moment += step
    engine = Engine(project_playbook(settings).playbook, load_policy(settings))
    state_now = empty_state()
    since: datetime | None = None
    decided: list[pl.DataFrame] = []
    refused: list[pl.DataFrame] = []
    customers = 0
    report = progress or (lambda _s, _d, _t: None)
    for index, day in enumerate(days):
        report("backtest", index, len(days))
        with Warehouse(settings.warehouse) as warehouse:
            have = SnapshotStore(warehouse).run_at(day) is not None
        if not have:
            snapshot(settings, day, clock=clock)
        with Warehouse(settings.warehouse) as warehouse, StateStore.from_settings(settings) as st:
            log = DecisionLog(st)

            def consents(
                ids: Sequence[str] | None, at: datetime = day, log: DecisionLog = log
            ) -> pl.DataFrame:
                return log.consents(ids, at).cast(CONSENT_SCHEMA)  # type: ignore[arg-type]

            store = SnapshotStore(warehouse)
            result, state_now = in_memory_pass(engine, store, state_now, consents, since, day)
            run = store.run_at(day)
            customers = run.customers if run is not None else customers
        decided.append(result.decisions.with_columns(as_of=pl.lit(day, pl.Datetime("us", "UTC"))))
        refused.append(result.not_entered.with_columns(as_of=pl.lit(day, pl.Datetime("us", "UTC"))))
        since = day
    report("backtest", len(days), len(days))
    return BacktestReport(
        first, last, days, customers,
        pl.concat(decided, how="vertical") if decided else pl.DataFrame(),
        pl.concat(refused, how="vertical") if refused else pl.DataFrame(),
    )  # fmt: skip
