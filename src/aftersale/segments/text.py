"""Reading customer text: which buyer slice its words point to, its tone and its sentiment.

One interface (:class:`TextClassifier`) so a better model can replace the lexicons; the default
:class:`LexiconClassifier` uses the project's configurable word lists plus VADER sentiment.
Classification runs once per distinct text and is cached in the warehouse, so its cost grows
with the number of distinct texts, not with events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from aftersale.domain.slices import TONES

__all__ = ["LexiconClassifier", "TextClassifier", "TextSignal"]

_TONE_ORDER = ("refund", "anger", "disappointment", "confusion")
_TONED_KINDS = frozenset({"ticket", "refund_reason", "review"})


@dataclass(frozen=True, slots=True)
class TextSignal:
    """What one text says: the slice its words point to (or None), tone and sentiment."""

    slice: str | None
    slice_hits: int
    tone: str | None
    sentiment: float | None


class TextClassifier(Protocol):
    """Classifies texts of one kind (search, question, ticket, survey, topic, ...)."""

    def classify(self, kind: str, texts: Sequence[str]) -> list[TextSignal]:
        """One signal per text, in order."""
        ...


def _pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    cleaned = sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(t) for t in cleaned) + ")")


class LexiconClassifier:
    """Word lists per slice and per tone; VADER's compound score for sentiment and anger."""

    def __init__(
        self,
        slice_lexicon: dict[str, list[str]],
        tone_lexicon: dict[str, list[str]],
        anger_sentiment: float = -0.6,
    ) -> None:
        self._slices = {s: p for s, terms in slice_lexicon.items() if (p := _pattern(terms))}
        self._tones = {t: p for t, terms in tone_lexicon.items() if (p := _pattern(terms))}
        unknown = set(self._tones) - set(TONES)
        if unknown:
            raise ValueError(f"unknown tones {sorted(unknown)}")
        self._anger = anger_sentiment
        self._vader = SentimentIntensityAnalyzer()

    def slice_of(self, text: str) -> tuple[str | None, int]:
        """The slice with the most distinct matching terms (None on no match or a tie)."""
        lowered = text.lower().replace("_", " ")
        hits = {s: len(set(p.findall(lowered))) for s, p in self._slices.items()}
        best = max(hits.values(), default=0)
        if best == 0:
            return None, 0
        winners = [s for s, n in hits.items() if n == best]
        return (winners[0], best) if len(winners) == 1 else (None, best)

    def tone_of(self, text: str) -> tuple[str, float]:
        """The most alarming matching tone, and VADER's compound sentiment."""
        lowered = text.lower()
        sentiment = float(self._vader.polarity_scores(text)["compound"])
        for tone in _TONE_ORDER:
            pattern = self._tones.get(tone)
            if pattern is not None and pattern.search(lowered):
                return tone, sentiment
        if sentiment <= self._anger:
            return "anger", sentiment
        return "normal", sentiment

    def classify(self, kind: str, texts: Sequence[str]) -> list[TextSignal]:
        """Slice for every kind; tone and sentiment only for tickets, refund reasons, reviews."""
        out = []
        for text in texts:
            slice_name, hits = self.slice_of(text)
            if kind in _TONED_KINDS:
                tone, sentiment = self.tone_of(text)
                out.append(TextSignal(slice_name, hits, tone, sentiment))
            else:
                out.append(TextSignal(slice_name, hits, None, None))
        return out
