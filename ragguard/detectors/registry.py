"""Detector names -> classes. Names are stable: they are part of the baseline format."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from ragguard.detectors.base import Detector
from ragguard.detectors.fingerprint import environment_digest
from ragguard.errors import ConfigurationError

#: name -> "module:Class". Imported lazily so unused detectors cost nothing.
REGISTRY: dict[str, str] = {
    "instructions": "ragguard.detectors.instructions:InstructionDetector",
    "hidden": "ragguard.detectors.hidden:HiddenContentDetector",
    "obfuscation": "ragguard.detectors.normalize:ObfuscationDetector",
    "query_targeting": "ragguard.detectors.query_targeting:QueryTargetingDetector",
    "token_artifacts": "ragguard.detectors.token_artifacts:TokenArtifactDetector",
    "classifier": "ragguard.detectors.classifier:EmbeddingClassifier",
    "campaign": "ragguard.detectors.campaign:CampaignDetector",
    "density": "ragguard.detectors.density:DensityOutlierDetector",
}

#: Detectors the guard runs when none are named.
DEFAULT_DETECTORS: tuple[str, ...] = (
    "instructions",
    "hidden",
    "obfuscation",
    "query_targeting",
    "token_artifacts",
    "classifier",
    "campaign",
)
# "density" is opt-in: measured on the dev set it flags legitimate new kinds of
# text (man pages, e-mails) in a corpus of encyclopedia passages far more often
# than it catches poisoning, which is written to sit near its target.


def create(name: str) -> Detector:
    """Instantiate the detector registered as ``name``.

    Raises:
        ConfigurationError: If no detector has that name.
    """
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigurationError(f"unknown detector {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, _, cls = target.partition(":")
    factory = getattr(importlib.import_module(module), cls)
    detector: Detector = factory()
    # Digest the detector code now that it is loaded, so the screen id sealed later names
    # this code even if the package is changed on disk meanwhile (computed once a process).
    environment_digest()
    return detector


def create_all(names: Sequence[str] = DEFAULT_DETECTORS) -> list[Detector]:
    """Instantiate several detectors by name."""
    return [create(n) for n in names]
