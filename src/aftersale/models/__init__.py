"""Customer-base models: purchase counts, dropout, spend and subscription retention.

Own vectorised likelihoods (numpy/scipy), sklearn-shaped: settings in ``__init__``,
``fit(...) -> self``, learned values ending in ``_``. See ``docs/MODELS.md`` for the models,
their inputs and units, the fallback order and the published numbers they reproduce.
"""

from __future__ import annotations

from aftersale.models._count_model import CountModel
from aftersale.models.base import BaseModel, check_is_fitted
from aftersale.models.basket import BasketRules
from aftersale.models.bgbb import BetaGeoBetaBinomModel
from aftersale.models.bgnbd import BetaGeoModel
from aftersale.models.evaluation import HoldoutEvaluation, calibration_chart, evaluate_holdout
from aftersale.models.gamma_gamma import GammaGammaModel
from aftersale.models.heuristic import RfmHeuristicModel
from aftersale.models.mbgnbd import ModifiedBetaGeoModel
from aftersale.models.nbd import NBDModel
from aftersale.models.pareto_nbd import ParetoNBDModel
from aftersale.models.persistence import load_model, save_model
from aftersale.models.replenishment import ReplenishmentModel
from aftersale.models.sbg import ShiftedBetaGeoModel
from aftersale.models.warnings import (
    BoundaryWarning,
    ConvergenceWarning,
    FewRepeatBuyersWarning,
    ModelWarning,
    NumericalWarning,
)

__all__ = [
    "BaseModel",
    "BasketRules",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "BoundaryWarning",
    "ConvergenceWarning",
    "CountModel",
    "FewRepeatBuyersWarning",
    "GammaGammaModel",
    "HoldoutEvaluation",
    "ModelWarning",
    "ModifiedBetaGeoModel",
    "NBDModel",
    "NumericalWarning",
    "ParetoNBDModel",
    "ReplenishmentModel",
    "RfmHeuristicModel",
    "ShiftedBetaGeoModel",
    "calibration_chart",
    "check_is_fitted",
    "evaluate_holdout",
    "load_model",
    "save_model",
]
