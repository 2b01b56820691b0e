"""Typed warnings raised by the customer-base models.

A fit that cannot be trusted is not an exception: the estimator warns with one of these
classes and falls back to a simpler model (see ``docs/MODELS.md``), so callers can filter or
escalate them precisely::

    ModelWarning (UserWarning)
     ├── ConvergenceWarning      the optimiser stopped without reaching a stationary point
     ├── BoundaryWarning         a parameter ran to the edge of its search range
     ├── FewRepeatBuyersWarning  too few repeat buyers to identify a dropout process
     └── NumericalWarning        a prediction was not finite and was replaced
"""

from __future__ import annotations

__all__ = [
    "BoundaryWarning",
    "ConvergenceWarning",
    "FewRepeatBuyersWarning",
    "ModelWarning",
    "NumericalWarning",
]


class ModelWarning(UserWarning):
    """Root of every warning the models emit; filter on it to silence or escalate all of them."""


class ConvergenceWarning(ModelWarning):
    """The likelihood optimiser did not converge, so the fitted parameters are not an optimum."""


class BoundaryWarning(ModelWarning):
    """A parameter hit the edge of its log-scale search box, so the model is degenerate here."""


class FewRepeatBuyersWarning(ModelWarning):
    """Almost every customer bought once, which leaves a dropout process unidentified."""


class NumericalWarning(ModelWarning):
    """A prediction overflowed or was undefined and was replaced by the fallback's value."""
