"""Landmarker backends behind the one `Landmarker` seam, chosen by name.

`litert` runs the Face Landmarker's three models on LiteRT (`core.backends.litert`);
`mediapipe` is MediaPipe's Tasks API (`core.landmarker`), the reference for parity. `auto`
takes the first of `AUTO_ORDER` that can be imported, logging a fallback, and the environment
variable SMILE_MIRROR_BACKEND overrides the configured name (as gpiozero's GPIOZERO_PIN_FACTORY
does for its pin factories).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from core.errors import ConfigError
from core.landmarker import Landmarker

log = logging.getLogger(__name__)

BACKENDS = ("auto", "litert", "mediapipe")
AUTO_ORDER = ("litert", "mediapipe")
BACKEND_ENV = "SMILE_MIRROR_BACKEND"
_MODULES = {"litert": "ai_edge_litert", "mediapipe": "mediapipe"}


def available(name: str) -> bool:
    """Installed, and runnable on this CPU (mediapipe 1.x is not, on an ARMv8.0 core)."""
    if importlib.util.find_spec(_MODULES[name]) is None:
        return False
    if name == "mediapipe":
        from core.armcpu import mediapipe_blocker

        why = mediapipe_blocker()
        if why:
            log.info("landmarker backend mediapipe cannot run here: %s", why)
            return False
    return True


def resolve(name: str = "auto") -> str:
    """The concrete backend for a configured name (the environment variable wins)."""
    name = os.environ.get(BACKEND_ENV) or name
    if name not in BACKENDS:
        raise ConfigError(f"{BACKEND_ENV} or model.backend = {name!r} is not allowed; it must be one of "
                          f"{', '.join(BACKENDS)}.")
    if name != "auto":
        return name
    for candidate in AUTO_ORDER:
        if available(candidate):
            return candidate
        log.info("landmarker backend %s is not installed; trying the next", candidate)
    return AUTO_ORDER[-1]


def make_landmarker(model: Path, *, backend: str = "auto", max_faces: int = 1, still: bool = False,
                    threads: int = 1) -> Landmarker:
    """A bare landmarker of the chosen backend (no zoom); `threads` applies to LiteRT only
    (the Tasks API has no such knob)."""
    name = resolve(backend)
    if name == "litert":
        from core.backends.litert import LiteRTLandmarker

        return LiteRTLandmarker(model, max_faces=max_faces, still=still, threads=threads)
    from core.landmarker import MediapipeLandmarker

    return MediapipeLandmarker(model, max_faces=max_faces, still=still)


def backend_of(landmarker: object) -> str:
    """The backend name of a (possibly wrapped) landmarker, for bench and diagnostics."""
    for _ in range(4):
        name = getattr(landmarker, "backend", None)
        if name:
            return str(name)
        inner = getattr(landmarker, "inner", None)
        if inner is None:
            break
        landmarker = inner
    return "mediapipe" if "Mediapipe" in type(landmarker).__name__ or "Newcomer" in type(landmarker).__name__ \
        else type(landmarker).__name__
