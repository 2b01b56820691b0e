"""The default lexicons and VADER read tone and slice from text written for these tests."""

from __future__ import annotations

import pytest

from aftersale.segments.config import load_segmentation
from aftersale.segments.text import LexiconClassifier


@pytest.fixture(scope="module")
def classifier() -> LexiconClassifier:
    cfg = load_segmentation()
    return LexiconClassifier(cfg.lexicons.slices, cfg.lexicons.tones, cfg.tones.anger_sentiment)


@pytest.mark.parametrize(
    ("text", "tone"),
    [
        ("Please reimburse me, I am returning the parcel", "refund"),
        ("This is outrageous, my third message and nothing", "anger"),
        ("Honestly a waste of money, expected more from you", "disappointment"),
        ("I'm stuck on the second screen and don't understand what to press", "confusion"),
        ("Thanks, all good, just checking the wash temperature", "normal"),
        ("You people are horrible liars and thieves", "anger"),
    ],
)
def test_tone(classifier: LexiconClassifier, text: str, tone: str) -> None:
    [signal] = classifier.classify("ticket", [text])
    assert signal.tone == tone
    assert signal.sentiment is not None and -1 <= signal.sentiment <= 1


@pytest.mark.parametrize(
    ("text", "slice_name"),
    [
        ("can it be delivered overnight, I need it urgently", "pain_now"),
        ("independent lab study comparing the top brands", "proof_seeker"),
        ("something simple that runs on autopilot for a busy parent", "time_poor"),
        ("cheapest option with a promo code", "budget_starter"),
        ("flagship professional edition", "status_chaser"),
        ("bundle_deal", "budget_starter"),
    ],
)
def test_slice_words(classifier: LexiconClassifier, text: str, slice_name: str) -> None:
    [signal] = classifier.classify("search", [text])
    assert signal.slice == slice_name
    assert signal.tone is None  # searches carry no tone


def test_no_words_or_a_tie_gives_no_slice(classifier: LexiconClassifier) -> None:
    assert classifier.slice_of("blue socks") == (None, 0)
    assert classifier.slice_of("cheap premium")[0] is None
