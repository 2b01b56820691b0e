"""Behaviour events carry slice-typical signals, health truth follows them, consent is honoured."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aftersale.simulator import SLICES
from aftersale.simulator.texts import (
    CATEGORY_WORDS,
    CHECKOUT_QUESTIONS,
    SEARCH_TEMPLATES,
    SURVEY_ANSWERS,
    TICKETS,
)

from .conftest import MEDIUM, Store

EXPECTED_EVENTS = {
    "Products Searched",
    "Product Viewed",
    "Checkout Question Asked",
    "Pricing Viewed",
    "Onboarding Step Completed",
    "Key Action Performed",
    "Milestone Reached",
    "Support Ticket Created",
    "Refund Requested",
    "Survey Answered",
    "Referral Shared",
    "Review Submitted",
    "Email Opened",
    "Email Link Clicked",
    "Unsubscribed",
}


def _with_slice(events: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    return events.merge(truth[["customer_id", "slice"]], left_on="user_id", right_on="customer_id")


def test_events_are_segment_spec_and_inside_the_period(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    ev = medium_events
    assert set(ev.loc[ev["type"] == "track", "event"]) == EXPECTED_EVENTS
    assert (ev["type"] == "identify").sum() > 0.3 * len(events_truth)
    assert ev["message_id"].is_unique
    assert ev["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    start = pd.Timestamp(MEDIUM.start_at)
    assert ev["at"].min() >= start
    assert ev["at"].max() < start + pd.Timedelta(days=MEDIUM.days)
    assert set(ev["user_id"]) <= set(events_truth["customer_id"])
    tz = ev["context"].map(lambda c: c["timezone"])
    assert tz.nunique() >= 15
    order_key = list(zip(ev["user_id"], ev["at"], strict=True))
    assert order_key == sorted(order_key)  # grouped by customer, then time


def test_searches_use_slice_wording(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    searches = _with_slice(
        medium_events[medium_events["event"] == "Products Searched"], events_truth
    )
    searches["query"] = searches["props"].map(lambda p: p["query"])
    for k, s in enumerate(SLICES):
        wording = {t.format(cat=w) for t in SEARCH_TEMPLATES[k] for w in CATEGORY_WORDS}
        own = searches["query"].isin(wording)
        mine, others = own[searches["slice"] == s], own[searches["slice"] != s]
        assert abs(mine.mean() - 0.7) < 4 * np.sqrt(0.21 / len(mine)), s
        assert others.mean() < 0.01, s


def test_budget_starters_ask_about_refunds_at_checkout(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    asked = _with_slice(
        medium_events[medium_events["event"] == "Checkout Question Asked"], events_truth
    )
    text = asked["props"].map(lambda p: p["question"].lower())
    money = text.str.contains("refund|money back|cheaper|discount|payment plan|returns")
    share = money.groupby(asked["slice"]).mean()
    assert share["budget_starter"] > 0.5
    assert share.drop("budget_starter").max() < 0.15
    per_customer = (
        asked.groupby("slice")["user_id"].nunique() / events_truth.groupby("slice").size()
    )
    assert per_customer["budget_starter"] > per_customer["time_poor"]
    pain = asked[asked["slice"] == "pain_now"]["props"].map(lambda p: p["question"])
    assert pain.isin(CHECKOUT_QUESTIONS[0]).mean() > 0.7


def test_survey_answers_mostly_name_the_true_slice(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    survey = _with_slice(medium_events[medium_events["event"] == "Survey Answered"], events_truth)
    assert 0.2 < survey["user_id"].nunique() / len(events_truth) < 0.35
    answer = survey["props"].map(lambda p: SLICES[SURVEY_ANSWERS.index(p["answer"])])
    accuracy = (answer == survey["slice"]).mean()
    assert abs(accuracy - 0.8) < 4 * np.sqrt(0.16 / len(survey))


def test_onboarding_speed_shows_in_steps_and_first_win(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    truth = events_truth.set_index("customer_id")
    steps = medium_events[medium_events["event"] == "Onboarding Step Completed"]
    n_steps = steps.groupby("user_id").size().reindex(truth.index, fill_value=0)
    assert (n_steps[truth["onboarding"] == "never"] == 0).all()
    assert (n_steps[truth["onboarding"] == "stuck"] <= 2).all()
    fast = truth[(truth["onboarding"] == "fast") & truth["has_first_win"]]
    hours = (fast["first_win_at"] - fast["first_order_at"]).dt.total_seconds() / 3600
    assert (hours <= 48).all()
    assert not truth.loc[truth["onboarding"].isin(["stuck", "never"]), "has_first_win"].any()
    wins = medium_events[medium_events["props"].map(lambda p: p.get("milestone") == "first_win")]
    assert set(wins["user_id"]) == set(truth.index[truth["has_first_win"]])


def test_health_truth_matches_signals(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    t = events_truth
    assert set(t["health"]) == {"green", "yellow", "red"}
    assert (t.loc[~t["is_alive_at_end"], "health"] == "red").all()
    assert (t.loc[t["onboarding"] == "never", "health"] == "red").all()
    green = t[t["health"] == "green"]
    assert green["is_alive_at_end"].all()
    assert green["onboarding"].isin(["fast", "slow"]).all()
    assert (
        green["worst_ticket_tone"].fillna("normal").isin(["normal", "confusion", "anger", "refund"])
    ).all()
    # Red customers write angrier tickets than green ones.
    angry = t["worst_ticket_tone"].isin(["anger", "refund"])
    assert angry[t["health"] == "red"].mean() > 2 * angry[t["health"] == "green"].mean()
    tickets = medium_events[medium_events["event"] == "Support Ticket Created"]
    bodies = set(tickets["props"].map(lambda p: p["body"]))
    assert bodies <= {b for tone in TICKETS for b in tone}


def test_silence_after_dropout(medium_events: pd.DataFrame, events_truth: pd.DataFrame) -> None:
    dropped = events_truth[~events_truth["is_alive_at_end"]].set_index("customer_id")["dropout_at"]
    usage = medium_events[medium_events["event"].isin(["Key Action Performed", "Referral Shared"])]
    usage = usage[usage["user_id"].isin(dropped.index)]
    late = usage["at"] > usage["user_id"].map(dropped) + pd.Timedelta(days=10)
    assert not late.any()


def test_marketing_email_only_while_opted_in(medium: Store, medium_events: pd.DataFrame) -> None:
    consents = pd.read_csv(medium.root / "consents.csv", parse_dates=["recorded_at"])
    email = consents[consents["channel"] == "email"].sort_values(["customer_id", "recorded_at"])
    opens = medium_events[medium_events["event"].isin(["Email Opened", "Email Link Clicked"])]
    merged = pd.merge_asof(
        opens.sort_values("at")[["user_id", "at", "event"]],
        email.sort_values("recorded_at")[["customer_id", "recorded_at", "status"]],
        left_on="at",
        right_on="recorded_at",
        left_by="user_id",
        right_by="customer_id",
    )
    opened = merged[merged["event"] == "Email Opened"]
    assert (opened["status"] == "opt_in").all()
    assert len(opened) > 0


def test_referrals_only_after_a_first_win(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    ref = medium_events[medium_events["event"] == "Referral Shared"]
    win = events_truth.set_index("customer_id")["first_win_at"]
    assert (ref["at"] > ref["user_id"].map(win)).all()
    rate = ref.groupby(ref["user_id"].map(events_truth.set_index("customer_id")["slice"]))[
        "user_id"
    ].nunique()
    assert rate.idxmax() == "status_chaser" or rate["status_chaser"] > rate["time_poor"]


def test_email_clicks_have_slice_topics(
    medium_events: pd.DataFrame, events_truth: pd.DataFrame
) -> None:
    clicks = _with_slice(
        medium_events[medium_events["event"] == "Email Link Clicked"], events_truth
    )
    topic = clicks["props"].map(lambda p: p["topic"])
    sale = topic.isin(["sale", "bundle_deal", "value_guide"])
    share = sale.groupby(clicks["slice"]).mean()
    assert share["budget_starter"] > 2 * share["status_chaser"]
