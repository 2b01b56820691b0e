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
from aftersale.errors import ConfigError, InvalidInputError, StorageError
from aftersale.features.definitions import standard_registry
from aftersale.playbooks.load import LoadedPlaybook, default_playbook, load_playbook
from aftersale.playbooks.schema import Playbook
from aftersale.segments.config import load_segmentation
from aftersale.store.decision_log import DecisionLog, PassRecord
from aftersale.store.snapshots import FEATURES, SEGMENTS, SnapshotStore
from aftersale.store.state import StateStore
from aftersale.store.warehouse import Warehouse

__all__ = [
    "DecisionPass",
    "Engine",
    "gather",
    "load_policy",
    "project_playbook",
    "run_decisions",
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


def tables_at(
    store: SnapshotStore, as_of: datetime, since: datetime | None
) -> Tables:
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


def _polars(expr: ir.Table | None, schema: dict[str, Any]) -> pl.DataFrame:
    if expr is None:
        return pl.DataFrame(schema=schema)
    frame = expr.to_polars()
    return frame.cast({k: v for k, v in schema.items() if k in frame.columns})  # type: ignore[arg-type]


@dataclass
class Engine:
    """A loaded playbook and policy, ready to run passes over one warehouse."""

    playbook: Playbook
    policy: Policy

    def inputs(
        self,
        tables: Tables,
        state: PolicyState,
        since: datetime | None,
        as_of: datetime,
        customer_ids: Sequence[str] | None,
        consents: Callable[[Sequence[str] | None], pl.DataFrame],
    ) -> PassInputs:
        """Gather one pass's facts from the warehouse (see :func:`gather`)."""
        return gather(self.playbook, self.policy, tables, state, since, as_of, customer_ids,
                      consents)  # fmt: skip

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
    """Run the set-based queries of one pass and return their results as frames."""
    plays = [p for p in playbook.plays if p.enabled]
    entered = _polars(entries(plays, tables, since, as_of, customer_ids), ENTRY_SCHEMA)
    active = state.journeys.filter(pl.col("status") == "active")
    if customer_ids is not None:
        active = active.filter(pl.col("customer_id").is_in(list(customer_ids)))
    involved = pl.concat(
        [entered.select("customer_id"), active.select("customer_id")], how="vertical"
    ).unique()
    if involved.is_empty():
        return PassInputs(entered, pl.DataFrame(schema={"customer_id": pl.String}),
                          pl.DataFrame(schema=CONSENT_SCHEMA), pl.DataFrame(schema=WAIT_SCHEMA))  # fmt: skip
    ids = involved["customer_id"].to_list()
    id_table = ibis.memtable(pa.table({"customer_id": pa.array(ids, pa.string())}))
    facts = customer_facts(plays, policy, tables, as_of, id_table).to_polars()
    starts = pl.concat(
        [active.select(t=pl.col("entered_at")), entered.select(t=pl.col("triggered_at"))]
    )["t"].min()
    start = starts if isinstance(starts, datetime) else ensure_utc(as_of) - timedelta(days=1)
    waited = _polars(waited_events(plays, tables, start, as_of, id_table), WAIT_SCHEMA)
    return PassInputs(entered, facts, consents(None if customer_ids is None else ids), waited)


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

    def suppressed_by_gate(self) -> dict[str, int]:
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
            "by_gate": self.suppressed_by_gate(),
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
) -> DecisionPass:
    """Decide for every customer (or only ``customer_ids``) at ``as_of`` and store it all.

    ``as_of`` defaults to the latest snapshot. A pass before the latest stored pass is refused
    (use :func:`backtest` for history); the latest one may be re-run and changes nothing.
    """
    settings = settings or load_settings()
    clock = clock or SystemClock()
    step = progress or (lambda _s, _d, _t: None)
    loaded = project_playbook(settings)
    engine = Engine(loaded.playbook, load_policy(settings))
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

        inputs = engine.inputs(tables, state_now, since, moment, customer_ids, consents)
        step("deciding", 1, 3)
        result = engine.run(inputs, state_now, moment)
        step("deciding", 2, 3)
        counts = result.counts()
        digest = playbook_digest(loaded.playbook)
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


def _pass_id(
    as_of: datetime, mode: str, customer_ids: Sequence[str] | None, now: datetime
) -> str:
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
    inputs = engine.inputs(tables, state, since, moment, customer_ids, consents)
    result = engine.run(inputs, state, moment)
    journeys = pl.concat(
        [state.journeys.join(result.journeys.select("journey_id"), on="journey_id", how="anti"),
         result.journeys], how="vertical",
    )  # fmt: skip
    history = pl.concat([state.history, result.history_rows()], how="vertical")
    return result, PolicyState(journeys, history)


def fresh_state() -> PolicyState:
    """State before any pass (for in-memory runs)."""
    return empty_state()
