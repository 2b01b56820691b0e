"""Point-in-time customer features computed as Ibis expressions over the warehouse tables."""

from aftersale.features.rfm import TIME_UNITS, calibration_holdout, rfm_summary

__all__ = ["TIME_UNITS", "calibration_holdout", "rfm_summary"]
