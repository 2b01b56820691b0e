"""The default playbook ships as package data, is valid, and encodes DESIGN.md section 4.

Structure is checked on the parsed models (paths through branches, summed waits), audience and
branch conditions are evaluated with DuckDB on sample customers, and every template is rendered
once in the Jinja2 sandbox with a context that fails on any name the renderer does not provide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import as_file, files
from typing import Any

import duckdb
import pytest
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from sqlglot import expressions as exp

from aftersale.domain.slices import SLICES
from aftersale.features.definitions import standard_registry
from aftersale.playbooks import parse_condition, parse_duration, validate_playbook
from aftersale.playbooks.schema import (
    BranchStep,
    ChangeTrigger,
    EventTrigger,
    ExitStep,
    Message,
    Play,
    Playbook,
    SendStep,
    TimeTrigger,
    WaitStep,
    WaitUntilStep,
)
from aftersale.segments.assign import SEGMENT_COLUMNS

STOP = "Reply STOP to opt out"
PROMOTION_GUARDS = "refund_requests_recent = 0 AND angry_texts_recent = 0"


# -- loading ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def playbook() -> Playbook:
    resource = files("aftersale.playbooks").joinpath("default.yaml")
    assert resource.is_file(), "default.yaml is not shipped inside the aftersale.playbooks package"
    with as_file(resource) as path:
        book, problems = validate_playbook(path)
    assert problems == [], "\n".join(str(p) for p in problems)
    assert book is not None
    return book


@pytest.fixture(scope="module")
def plays(playbook: Playbook) -> dict[str, Play]:
    return {play.id: play for play in playbook.plays}


def test_the_packaged_playbook_is_valid(playbook: Playbook) -> None:
    assert playbook.name == "default"
    assert playbook.version == 1
    assert len(playbook.plays) >= 20


# -- helpers ---------------------------------------------------------------------------------
def _sample_row() -> dict[str, Any]:
    """A plausible Green customer: every feature and segment column with a value."""
    return dict(_SAMPLE_ROW)


def _build_sample_row() -> dict[str, Any]:
    at = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    by_type: dict[str, Any] = {"timestamp": at, "int64": 0, "float64": 1.0, "string": "coffee"}
    row: dict[str, Any] = {f.name: by_type[f.dtype] for f in standard_registry()}
    row.update(dict.fromkeys(SEGMENT_COLUMNS, "unknown"))
    row.update(
        lifecycle="active",
        value_tier="medium",
        persona="neutral",
        slice="unknown",
        health_grade="green",
        health_score=100,
        slice_confidence=0.5,
        rfm_r=3,
        rfm_f=3,
        rfm_m=3,
        price_sensitive_points=0,
        premium_points=0,
        orders=1,
        frequency=0,
        hours_to_first_win=20.0,
        hours_since_first_order=100.0,
        p_alive=0.5,
        cross_sell_candidates=2,
    )
    return row


_SAMPLE_ROW = _build_sample_row()


def _holds(condition: str, **overrides: Any) -> bool:
    """Whether ``condition`` is true (not false, not NULL) for the sample row with overrides."""
    parsed = parse_condition(condition)
    row = {**_sample_row(), **overrides}
    names = sorted(parsed.names)
    missing = [n for n in names if n not in row]
    assert not missing, f"{condition!r} reads names with no sample value: {missing}"
    inner = ", ".join(f'${i + 1} AS "{name}"' for i, name in enumerate(names)) or "1 AS one"
    sql = f"SELECT ({parsed.tree.sql(dialect='duckdb')}) FROM (SELECT {inner})"
    (value,) = duckdb.execute(sql, [row[n] for n in names]).fetchone() or (None,)
    return value is True


def _conjuncts(condition: str) -> set[str]:
    """The top-level AND terms of a condition, as normalised SQL."""
    tree = parse_condition(condition).tree
    while isinstance(tree, exp.Paren):
        tree = tree.this
    return {term.sql() for term in tree.flatten()} if isinstance(tree, exp.And) else {tree.sql()}


Path = tuple[list[tuple[str, timedelta]], list[tuple[str, bool]]]


def _paths(steps: list[Any], at: timedelta = timedelta(0)) -> Iterator[Path]:
    """Every way through ``steps`` (each branch taken both ways): the sends with the time since
    entry (waits summed; a wait-until counted at its timeout) and the branch outcomes."""
    if not steps:
        yield [], []
        return
    head, rest = steps[0], steps[1:]
    if isinstance(head, BranchStep):
        for outcome, arm in ((True, head.then), (False, head.otherwise)):
            for sends, taken in _paths([*arm, *rest], at):
                yield sends, [(head.condition, outcome), *taken]
        return
    if isinstance(head, ExitStep):
        yield [], []
        return
    here: list[tuple[str, timedelta]] = []
    if isinstance(head, WaitStep):
        at += parse_duration(head.duration)
    elif isinstance(head, WaitUntilStep):
        at += parse_duration(head.timeout)
    elif isinstance(head, SendStep):
        here = [(head.id, at)]
    for sends, taken in _paths(rest, at):
        yield here + sends, taken


def _walk(steps: list[Any], holds: Callable[[str], bool]) -> list[str]:
    """The send-step ids one customer gets, branches decided by ``holds``."""
    out: list[str] = []
    for step in steps:
        if isinstance(step, BranchStep):
            out += _walk(step.then if holds(step.condition) else step.otherwise, holds)
        elif isinstance(step, ExitStep):
            break
        elif isinstance(step, SendStep):
            out.append(step.id)
    return out


def _messages(play: Play) -> Iterator[tuple[str, Message]]:
    """Every message of a play: send steps and variant replacements."""
    for step in play.walk_steps():
        if isinstance(step, SendStep):
            yield step.id, step.message
    for variant in play.variants:
        for step_id, message in variant.messages.items():
            yield f"{variant.id}:{step_id}", message


def _texts(message: Message) -> Iterator[tuple[str, str]]:
    if message.email:
        yield "email.subject", message.email.subject
        yield "email.html", message.email.html
        yield "email.text", message.email.text
    if message.sms:
        yield "sms.text", message.sms.text
    for channel in ("push", "in_app"):
        part = getattr(message, channel)
        if part:
            yield f"{channel}.title", part.title
            yield f"{channel}.body", part.body


def _all_text(play: Play) -> str:
    return "\n".join(t for _, m in _messages(play) for _, t in _texts(m)).lower()


def _sends(play: Play) -> dict[str, SendStep]:
    return {s.id: s for s in play.walk_steps() if isinstance(s, SendStep)}


# -- the 7-day onboarding cadence ------------------------------------------------------------
@pytest.mark.parametrize("play_id", ["onboarding", "onboarding_pain_now"])
def test_onboarding_sends_on_days_0_1_3_5_7(plays: dict[str, Play], play_id: str) -> None:
    play = plays[play_id]
    assert play.purpose == "transactional"
    assert isinstance(play.trigger, TimeTrigger)
    offset = parse_duration(play.trigger.offset)
    assert play.trigger.after == "first_order_at"
    assert offset == timedelta(0)
    paths = list(_paths(play.steps))
    assert paths
    for sends, taken in paths:
        times = [t for _, t in sends]
        assert all(t % timedelta(days=1) == timedelta(0) for t in times), sends
        days = [t.days for t in times]
        no_first_win = ("first_win_at IS NULL", True) in taken
        # the day-1 first-win reminder is skipped once the first win is in
        assert days == ([0, 1, 3, 5, 7] if no_first_win else [0, 3, 5, 7]), (taken, sends)
    assert "grade_red" in play.exit_when
    assert {"refunded", "unsubscribed"} <= set(play.exit_when)


def test_onboarding_is_tuned_per_slice(plays: dict[str, Play]) -> None:
    play = plays["onboarding"]

    def sends_for(slice_: str, **features: Any) -> list[str]:
        return _walk(play.steps, lambda c: _holds(c, slice=slice_, **features))

    base = sends_for("unknown", first_win_at=None)
    assert base == [
        "d0_welcome",
        "d1_first_win_reminder",
        "d3_progress_check",
        "d5_common_questions",
        "d7_next_step",
    ]
    assert sends_for("unknown")[1] == "d3_progress_check"  # first win already in: no reminder
    assert "d3_measure_progress" in sends_for("proof_seeker", first_win_at=None)
    assert "d5_value_recap" in sends_for("budget_starter", first_win_at=None)
    status = sends_for("status_chaser", first_win_at=None)
    assert {"d3_milestone_kpi", "d7_next_level"} <= set(status)
    time_poor = sends_for("time_poor", first_win_at=None)
    assert len(time_poor) == 5
    assert all(s.endswith(("_short", "_checklist")) for s in time_poor), time_poor
    steps = _sends(play)
    for step_id in time_poor:  # shorter steps: every Time-Poor email is shorter than its peer
        short, full = steps[step_id].message.email, None
        for other in base:
            if other[:2] == step_id[:2]:
                full = steps[other].message.email
        assert short is not None and full is not None
        assert len(short.text) < len(full.text), step_id
    checklist = steps["d0_welcome_checklist"].message.email
    assert checklist is not None and "<ul>" in checklist.html
    # Pain-Now buyers get their own play, not this one
    assert play.audience.where and not _holds(play.audience.where, slice="pain_now")
    assert _holds(play.audience.where, slice="time_poor")


def test_pain_now_onboarding_uses_fast_channels(plays: dict[str, Play]) -> None:
    play = plays["onboarding_pain_now"]
    assert play.audience.slices == ["pain_now"]
    assert play.channels[0] == "sms"
    assert play.priority >= plays["onboarding"].priority
    for step_id, message in _messages(play):
        assert message.sms is not None
        assert "links.call_request" in message.sms.text or "links.support" in message.sms.text
        assert len(_render(message.sms.text)) <= 200, step_id  # short confirmations
    assert sum("links.call_request" in m.sms.text for _, m in _messages(play) if m.sms) >= 4
    # less reading than the standard cadence, step for step
    pain_now = [m.email.text for _, m in _messages(play) if m.email]
    standard = _sends(plays["onboarding"])
    base = ["d0_welcome", "d1_first_win_reminder", "d3_progress_check"]
    base += ["d5_common_questions", "d7_next_step"]
    for mine, other in zip(pain_now, base, strict=True):
        email = standard[other].message.email
        assert email is not None and len(mine) < len(email.text), other


# -- save offers on Red ----------------------------------------------------------------------
SAVE_WORDS = {
    "pain_now": ["priority", "links.call_request"],
    "proof_seeker": ["progress review", "next best step"],
    "time_poor": ["set it up with you", "lighter plan"],
    "budget_starter": ["smaller plan", "pause", "recap"],
    "status_chaser": ["expert", "upgrade", "challenge"],
}


def _save_plays(plays: dict[str, Play]) -> list[Play]:
    return [
        p
        for p in plays.values()
        if isinstance(p.trigger, ChangeTrigger)
        and p.trigger.of == "health_grade"
        and "red" in p.trigger.to
    ]


@pytest.mark.parametrize("slice_", [*SLICES, "unknown"])
def test_every_slice_has_a_save_offer_when_health_turns_red(
    plays: dict[str, Play], slice_: str
) -> None:
    mine = [p for p in _save_plays(plays) if slice_ in p.audience.slices]
    assert len(mine) == 1, f"no single save play for {slice_}"
    play = mine[0]
    assert play.purpose == "transactional"
    assert play.goal == "retention"
    assert {"refunded", "unsubscribed"} <= set(play.exit_when)
    assert any(_holds(rule, health_grade="yellow") for rule in play.exit_when if " " in rule)
    text = _all_text(play)
    for word in SAVE_WORDS.get(slice_, ["links.support"]):
        assert word in text, (slice_, word)
    assert "offer.code" not in text  # help first, never a discount
    if slice_ == "pain_now":
        assert play.channels[0] == "sms"


def test_priorities_put_save_offers_and_onboarding_above_promotions(
    plays: dict[str, Play],
) -> None:
    saves = [p.priority for p in _save_plays(plays)]
    onboarding = [plays["onboarding"].priority, plays["onboarding_pain_now"].priority]
    promotions = [p.priority for p in plays.values() if p.purpose == "marketing"]
    assert min(saves) > max(onboarding) > max(promotions)


# -- referral asks ---------------------------------------------------------------------------
def test_referral_asks_only_at_moments_of_belief_when_green_after_the_first_win(
    plays: dict[str, Play],
) -> None:
    referral = [p for p in plays.values() if p.goal == "referral"]
    assert len(referral) >= 3
    for play in referral:
        assert play.audience.health == ["green"], play.id
        assert "grade_not_green" in play.exit_when, play.id
        where = play.audience.where or pytest.fail(f"{play.id} has no audience condition")
        assert _conjuncts("first_win_at IS NOT NULL") <= _conjuncts(where), play.id
        assert _holds(where), play.id
        assert not _holds(where, first_win_at=None), play.id
        assert not _holds(where, angry_texts_recent=1), play.id
        assert isinstance(play.trigger, EventTrigger), play.id
        assert play.trigger.within is not None, play.id  # at the moment, not days later
        assert "referral.url" in _all_text(play), play.id
    moments = {
        (p.trigger.event, tuple(sorted(p.trigger.where.items())))
        for p in referral
        if isinstance(p.trigger, EventTrigger)
    }
    assert ("Milestone Reached", (("milestone", "first_win"),)) in moments
    assert any(event == "Milestone Reached" and not where for event, where in moments)
    assert any(event.startswith("Support Ticket") for event, _ in moments)
    first_win = plays["referral_first_win"]
    assert first_win.audience.where
    assert not _holds(first_win.audience.where, hours_to_first_win=60.0)
    # asked vs received: a thank-you only after a Referral Shared event, else leave
    for play in referral:
        waits = [s for s in play.walk_steps() if isinstance(s, WaitUntilStep)]
        assert any(w.event == "Referral Shared" and w.on_timeout == "exit" for w in waits)
    # nobody else asks for referrals
    for play in plays.values():
        if play.goal != "referral":
            assert "referral.url" not in _all_text(play), play.id


# -- marketing rules -------------------------------------------------------------------------
def test_marketing_plays_hold_out_respect_opt_outs_and_skip_unhappy_customers(
    plays: dict[str, Play],
) -> None:
    marketing = [p for p in plays.values() if p.purpose == "marketing"]
    assert len(marketing) >= 10
    for play in marketing:
        assert play.holdout > 0, play.id
        assert "unsubscribed" in play.exit_when, play.id
        where = play.audience.where or pytest.fail(f"{play.id} has no audience condition")
        assert _conjuncts(PROMOTION_GUARDS) <= _conjuncts(where), play.id
        assert not _holds(where, refund_requests_recent=1), play.id
        assert not _holds(where, angry_texts_recent=2), play.id
        for step_id, message in _messages(play):
            for channel in play.channels:
                assert getattr(message, channel) is not None, (play.id, step_id, channel)
            if message.email:
                assert "links.unsubscribe" in message.email.html, (play.id, step_id)
                assert "links.unsubscribe" in message.email.text, (play.id, step_id)
            if message.sms:
                assert message.sms.text.rstrip().endswith(STOP), (play.id, step_id)
    for play in plays.values():
        assert play.exit_when, play.id
        if play.purpose == "transactional":
            assert "offer.code" not in _all_text(play), play.id
        if play.purpose == "marketing" and play.goal != "winback":
            assert {"grade_red", "grade_not_green"} & set(play.exit_when), play.id


def test_incentives_stop_once_the_customer_buys(plays: dict[str, Play]) -> None:
    for play_id in ("second_purchase_incentive", "winback", "replenishment", "cross_sell"):
        assert "bought_again" in plays[play_id].exit_when, play_id
    incentive = plays["second_purchase_incentive"]
    assert incentive.goal == "repeat_purchase"
    assert incentive.audience.where
    assert _conjuncts("orders = 1") <= _conjuncts(incentive.audience.where)
    waits = [s for s in incentive.walk_steps() if isinstance(s, WaitUntilStep)]
    assert [w.event for w in waits] == ["Order Completed"]


def test_ab_variants_have_weights_and_different_copy(plays: dict[str, Play]) -> None:
    with_variants = [p for p in plays.values() if len(p.variants) >= 2]
    assert {"second_purchase_incentive", "winback"} <= {p.id for p in with_variants}
    for play in with_variants:
        assert all(v.weight > 0 for v in play.variants)
        sends = _sends(play)
        replaced = [(sid, m) for v in play.variants for sid, m in v.messages.items()]
        assert replaced, play.id
        for step_id, message in replaced:
            base = sends[step_id].message
            assert message.email and base.email
            assert message.email.subject != base.email.subject, (play.id, step_id)


# -- the other flows of DESIGN.md section 4 --------------------------------------------------
def test_replenishment_is_timed_from_the_next_need_date(plays: dict[str, Play]) -> None:
    timed = [
        p
        for p in plays.values()
        if isinstance(p.trigger, TimeTrigger) and p.trigger.after == "next_need_at"
    ]
    assert [p.id for p in timed] == ["replenishment"]
    trigger = timed[0].trigger
    assert isinstance(trigger, TimeTrigger)
    offset = parse_duration(trigger.offset, allow_negative=True)
    assert offset <= timedelta(0)  # reminded before the need, not after
    assert "next_need.category" in _all_text(timed[0])


def test_cross_sell_uses_basket_rules_inside_the_post_purchase_window(
    plays: dict[str, Play],
) -> None:
    play = plays["cross_sell"]
    assert play.audience.where
    assert _conjuncts("cross_sell_candidates >= 1") <= _conjuncts(play.audience.where)
    assert not _holds(play.audience.where, cross_sell_candidates=0)
    assert isinstance(play.trigger, TimeTrigger) and play.trigger.after == "last_order_at"
    offset = parse_duration(play.trigger.offset)
    assert timedelta(0) < offset <= timedelta(days=30)  # inside the post-purchase window
    assert "cross_sell.item" in _all_text(play)


def test_winback_targets_lapsed_customers_by_p_alive(plays: dict[str, Play]) -> None:
    play = plays["winback"]
    assert play.goal == "winback"
    assert play.audience.lifecycle == ["lapsed"]
    assert play.audience.where and "p_alive" in parse_condition(play.audience.where).names
    assert not _holds(play.audience.where, p_alive=0.01)  # as good as gone: leave them be
    assert _holds(play.audience.where, p_alive=0.3)
    branches = [s for s in play.walk_steps() if isinstance(s, BranchStep)]
    assert any("p_alive" in parse_condition(b.condition).names for b in branches)
    assert "offer.code" in _all_text(play)


def test_milestones_and_anniversaries(plays: dict[str, Play]) -> None:
    anniversaries = [
        p
        for p in plays.values()
        if isinstance(p.trigger, TimeTrigger)
        and p.trigger.after == "first_order_at"
        and parse_duration(p.trigger.offset) >= timedelta(weeks=52)
    ]
    assert len(anniversaries) >= 1
    milestones = [
        p
        for p in plays.values()
        if isinstance(p.trigger, EventTrigger)
        and p.trigger.event == "Milestone Reached"
        and p.goal != "referral"
    ]
    assert milestones
    assert all("milestone.name" in _all_text(p) for p in milestones)


def test_segment_flows(plays: dict[str, Play]) -> None:
    care = _all_text(plays["care_tips"])
    assert "care" in care and "return" in care
    assert plays["care_tips"].purpose == "transactional"
    assert "mid_tenure" in plays["exclusive_access"].audience.lifecycle
    exclusive = _all_text(plays["exclusive_access"])
    assert "early access" in exclusive and "member pricing" in exclusive
    value = plays["price_sensitive_value"]
    assert value.audience.personas == ["price_sensitive"]
    assert all(w in _all_text(value) for w in ("bundle", "points", "guarantee"))
    premium = _all_text(plays["premium_previews"])
    assert "private preview" in premium and "limited edition" in premium
    assert "links.call_request" in _all_text(plays["premium_concierge"])
    for play_id in ("premium_previews", "premium_concierge"):
        where = plays[play_id].audience.where
        assert where and _holds(where, persona="premium") and not _holds(where, persona="neutral")
    upgrades = plays["accessories_upgrades"]
    assert upgrades.audience.where and not _holds(upgrades.audience.where, frequency=0)
    support = plays["proactive_support"]
    assert support.purpose == "transactional"
    assert isinstance(support.trigger, ChangeTrigger) and support.trigger.to == ["yellow"]


# -- every template renders ------------------------------------------------------------------
class MissingNameError(AssertionError):
    """A template used a name the renderer does not provide."""


class Names:
    """A context object: the listed attributes, and a loud failure for any other name."""

    def __init__(self, what: str, **values: Any) -> None:
        self._what = what
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            raise MissingNameError(f"{self._what}.{name} is not provided by the renderer")
        return self._values[name]


def _context(*, sparse: bool = False) -> dict[str, Names]:
    row = _sample_row()
    features = {f.name: row[f.name] for f in standard_registry()}
    features["top_category"] = None if sparse else "coffee"

    def opt(value: str) -> str | None:
        return None if sparse else value

    return {
        "customer": Names("customer", first_name=opt("Ada")),
        "shop": Names("shop", name="Ridgeline Roasters", url="https://shop.example.com"),
        "links": Names(
            "links",
            unsubscribe="https://shop.example.com/u/x1",
            preferences="https://shop.example.com/p/x1",
            support="https://shop.example.com/help",
            call_request="https://shop.example.com/call",
        ),
        "order": Names("order", id=opt("#100234")),
        "product": Names("product", name=opt("Swiss Water Decaf")),
        "features": Names("features", **features),
        "segments": Names("segments", **{c: row[c] for c in SEGMENT_COLUMNS}),
        "cross_sell": Names(
            "cross_sell", item="Pour-Over Dripper", reason=opt("often bought with decaf")
        ),
        "next_need": Names("next_need", category=opt("coffee")),
        "offer": Names(
            "offer", code="THANKS10", description="10% off", expires_on=opt("31 January")
        ),
        "referral": Names("referral", url="https://shop.example.com/r/ada"),
        "milestone": Names("milestone", name=opt("your first week")),
    }


def _render(source: str, *, html: bool = False) -> str:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=html)
    return env.from_string(source).render(_context())


def _every_template(playbook: Playbook) -> Iterator[tuple[str, str, str]]:
    for play in playbook.plays:
        for step_id, message in _messages(play):
            for field, text in _texts(message):
                yield f"{play.id}/{step_id}/{field}", field, text


@pytest.mark.parametrize("sparse", [False, True], ids=["full", "optional-values-missing"])
def test_every_template_renders_with_the_renderer_names(playbook: Playbook, sparse: bool) -> None:
    html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    context = _context(sparse=sparse)
    rendered = 0
    for where, field, source in _every_template(playbook):
        env = html_env if field.endswith(".html") else text_env
        try:
            out = env.from_string(source).render(context)
        except MissingNameError as exc:
            pytest.fail(f"{where}: {exc}")
        assert out.strip(), where
        assert "None" not in out, where  # optional values fall back to their defaults
        assert "{{" not in out and "{%" not in out, where
        if field == "sms.text":
            assert len(out) <= 480, where
        if not sparse and field in ("email.text", "sms.text"):
            assert "Ada" in out or "Ridgeline" in out, where
        rendered += 1
    assert rendered > 200


def test_a_misspelt_name_fails_to_render() -> None:
    env = SandboxedEnvironment(undefined=StrictUndefined)
    context = _context()
    with pytest.raises(MissingNameError):
        env.from_string("{{ customer.frist_name | default('there', true) }}").render(context)
    with pytest.raises(UndefinedError, match="custmer"):
        env.from_string("{{ custmer.first_name }}").render(context)
