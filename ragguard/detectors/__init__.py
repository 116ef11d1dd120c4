"""Detectors: one module per family, plus a registry of stable names."""

from ragguard.detectors.base import Detector, ScreeningBatch, TextDetector
from ragguard.detectors.registry import DEFAULT_DETECTORS, REGISTRY, create, create_all

__all__ = ["DEFAULT_DETECTORS", "REGISTRY", "Detector", "ScreeningBatch", "TextDetector", "create", "create_all"]
