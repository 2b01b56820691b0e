"""Response model: declared signs, state rules, fading repetition, fatigue, purity."""

from __future__ import annotations

import numpy as np
import pytest

from aftersale.errors import InvalidInputError
from aftersale.simulator import (
    MESSAGE_KINDS,
    SLICES,
    MessageKind,
    ResponseModel,
    ResponseParams,
    SentMessage,
    SimulationSpec,
)
from aftersale.simulator.response import EFFECT_FIELDS, _base_table

GREEN = {"health": "green", "has_first_win": True, "is_alive_at_end": True}


def _msgs(kind: MessageKind | str, days: list[float]) -> list[SentMessage]:
    return [SentMessage("C1", kind, d) for d in days]  # type: ignore[arg-type]


def test_table_has_a_cell_per_slice_and_kind_and_keeps_signs() -> None:
    model = ResponseModel(ResponseParams(jitter=0.3, seed=9))
    rows = model.table_rows()
    assert rows.num_rows == len(SLICES) * len(MESSAGE_KINDS) == 70
    assert rows.column_names == ["slice", "kind", *EFFECT_FIELDS]
    base = _base_table()
    assert np.array_equal(np.sign(model.table), np.sign(base))
    assert not np.allclose(model.table, base)
    assert np.all(model.table[..., 3:] >= 0)


def test_some_effects_are_harmful() -> None:
    table = ResponseModel().table
    assert (table[..., 0] < 0).sum() >= 3  # purchase rate falls for some (slice, kind) pairs
    assert (table[..., 2] < 0).sum() >= 3  # order value falls for some pairs


@pytest.mark.parametrize("slice_", SLICES)
@pytest.mark.parametrize("kind", [k for k in MESSAGE_KINDS if k != MessageKind.WINBACK])
def test_single_message_effect_has_the_declared_sign(slice_: str, kind: MessageKind) -> None:
    model = ResponseModel(ResponseParams(seed=3))
    cell = model.table[SLICES.index(slice_), MESSAGE_KINDS.index(kind)]
    row = {"slice": slice_, "health": "red", "has_first_win": False, "is_alive_at_end": True}
    if kind == MessageKind.REFERRAL_ASK:
        row = {"slice": slice_, **GREEN}
    effect = model.effect(row, _msgs(kind, [400.0]))
    assert np.sign(effect.purchase_rate_multiplier - 1) == np.sign(cell[0])
    assert np.sign(effect.dropout_multiplier - 1) == np.sign(cell[1])
    assert np.sign(effect.aov_multiplier - 1) == np.sign(cell[2])
    assert effect.p_unsubscribe == pytest.approx(cell[3])
    assert effect.p_reactivate == 0.0  # only lapsed customers can be won back


def test_no_messages_no_effect() -> None:
    effect = ResponseModel().effect({"slice": "time_poor", **GREEN}, [])
    assert (effect.purchase_rate_multiplier, effect.dropout_multiplier, effect.aov_multiplier) == (
        1,
        1,
        1,
    )
    assert effect.p_unsubscribe == effect.p_referral == effect.p_reactivate == 0


def test_referral_ask_before_first_win_backfires() -> None:
    model = ResponseModel()
    ask = _msgs("referral_ask", [400.0])
    good = model.effect({"slice": "status_chaser", **GREEN}, ask)
    early = model.effect({"slice": "status_chaser", "health": "green", "has_first_win": False}, ask)
    assert early.purchase_rate_multiplier < 1.0
    assert early.p_referral < good.p_referral / 4
    assert early.p_unsubscribe > good.p_unsubscribe * 2


def test_save_offer_matters_most_when_red() -> None:
    model = ResponseModel()
    offer = _msgs("save_offer", [400.0])
    drop = {
        h: model.effect(
            {"slice": "budget_starter", "health": h, "has_first_win": True}, offer
        ).dropout_multiplier
        for h in ("green", "yellow", "red")
    }
    assert drop["red"] < drop["yellow"] < drop["green"] < 1.0


def test_winback_revives_only_the_lapsed() -> None:
    model = ResponseModel()
    msg = _msgs("winback", [400.0])
    lapsed = model.effect({"slice": "pain_now", "health": "red", "is_alive_at_end": False}, msg)
    alive = model.effect({"slice": "pain_now", "health": "red", "is_alive_at_end": True}, msg)
    assert lapsed.p_reactivate > 0.05
    assert alive.p_reactivate == 0.0


def test_slice_specific_preferences() -> None:
    model = ResponseModel(ResponseParams(jitter=0.0))

    def lift(slice_: str, kind: str) -> float:
        return model.effect(
            {"slice": slice_, **GREEN}, _msgs(kind, [400.0])
        ).purchase_rate_multiplier

    assert lift("budget_starter", "bundle") > lift("status_chaser", "bundle")
    assert (
        lift("status_chaser", "exclusive_access") > 1.0 > lift("budget_starter", "exclusive_access")
    )
    status_aov = model.effect(
        {"slice": "status_chaser", **GREEN}, _msgs("second_purchase_incentive", [400.0])
    )
    assert status_aov.aov_multiplier < 0.95


def test_repetition_fades() -> None:
    model = ResponseModel(ResponseParams(jitter=0.0))
    row = {"slice": "budget_starter", **GREEN}
    one = model.effect(row, _msgs("bundle", [400.0])).purchase_rate_multiplier - 1
    two = model.effect(row, _msgs("bundle", [400.0, 420.0])).purchase_rate_multiplier - 1
    assert one < two < 2 * one


def test_fatigue_reduces_response_and_raises_unsubscribes() -> None:
    model = ResponseModel()
    row = {"slice": "time_poor", **GREEN}
    kinds = ["replenishment", "cross_sell", "care_tips", "milestone", "loyalty_points", "bundle"]
    spread = [SentMessage("C1", k, 400.0 + 10 * i) for i, k in enumerate(kinds)]  # type: ignore[arg-type]
    burst = [SentMessage("C1", k, 400.0 + 0.5 * i) for i, k in enumerate(kinds)]  # type: ignore[arg-type]
    calm, tired = model.effect(row, spread), model.effect(row, burst)
    assert tired.purchase_rate_multiplier < calm.purchase_rate_multiplier
    assert tired.dropout_multiplier > calm.dropout_multiplier
    assert tired.p_unsubscribe > calm.p_unsubscribe
    many = [SentMessage("C1", "cross_sell", 400.0 + 0.2 * i) for i in range(12)]  # type: ignore[arg-type]
    assert model.effect(row, many).purchase_rate_multiplier < 1.0  # fatigue outweighs the lift


def test_time_poor_tire_sooner_than_pain_now() -> None:
    model = ResponseModel(ResponseParams(jitter=0.0))
    burst = [SentMessage("C1", "milestone", 400.0 + 0.5 * i) for i in range(4)]  # type: ignore[arg-type]
    arrays = model.effects(
        slice_=np.array([0, 2]),
        health=np.zeros(2, np.int64),
        has_first_win=np.ones(2, bool),
        is_alive=np.ones(2, bool),
        msg_customer=np.repeat([0, 1], 4),
        msg_kind=np.full(8, MESSAGE_KINDS.index(MessageKind.MILESTONE)),
        msg_day=np.tile([m.day for m in burst], 2),
    )
    assert arrays.excess_messages.tolist() == [0, 2]


def test_model_is_pure_and_seeded() -> None:
    a = ResponseModel.from_spec(SimulationSpec(seed=4))
    b = ResponseModel.from_spec(SimulationSpec(seed=4))
    c = ResponseModel.from_spec(SimulationSpec(seed=5))
    assert np.array_equal(a.table, b.table)
    assert not np.array_equal(a.table, c.table)
    msgs = _msgs("bundle", [400.0, 401.0])
    assert a.effect({"slice": "pain_now"}, msgs) == a.effect({"slice": "pain_now"}, msgs)


def test_bad_kind_and_bad_slice_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="kind"):
        SentMessage("C1", "spam", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="slice"):
        ResponseModel().effect({"slice": "nobody"}, [])
