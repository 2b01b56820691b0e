"""Segments, buyer slices and health grades from the feature table, each with its reasons."""

from aftersale.segments.assign import SEGMENT_COLUMNS, Explanation, explain, segment_table
from aftersale.segments.config import SegmentationConfig, load_segmentation
from aftersale.segments.text import LexiconClassifier, TextClassifier, TextSignal

__all__ = [
    "SEGMENT_COLUMNS",
    "Explanation",
    "LexiconClassifier",
    "SegmentationConfig",
    "TextClassifier",
    "TextSignal",
    "explain",
    "load_segmentation",
    "segment_table",
]
