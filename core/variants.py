"""Face Landmarker variants at run time: which model file the mirror loads.

The variants (`float32`, `int8-weights`, `int8`) are built from the verified official bundle by
`smile-mirror model build` and gated for accuracy, offline (core/offline/). What the mirror
needs at each start is here, and needs only the stdlib and core.assets: the **manifest**
`variants.json` beside the official model in the cache holds, per variant, its SHA-256, size
and accuracy-gate result. A variant file is used only if its bytes match the manifest, the
manifest was made from the official model, and the gate passed; otherwise the kiosk warns and
uses the official model (a failing variant is never selected).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from core import assets

log = logging.getLogger(__name__)

OFFICIAL = "official"
VARIANTS = ("float32", "int8-weights", "int8")
CHOICES = (OFFICIAL, *VARIANTS)
MANIFEST = "variants.json"


def variant_filename(variant: str) -> str:
    return assets.MODEL.filename if variant == OFFICIAL else f"face_landmarker-{variant}.task"


def manifest_path(cache: Path) -> Path:
    return cache / MANIFEST


def read_manifest(cache: Path) -> dict[str, Any]:
    """The manifest in `cache`; empty when it is missing, unreadable or made from another model."""
    try:
        data = json.loads(manifest_path(cache).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"variants": {}}
    if not isinstance(data, dict) or data.get("source_sha256") != assets.MODEL.sha256:
        return {"variants": {}}
    return data


def matches(path: Path, entry: dict[str, Any]) -> bool:
    """The file at `path` has the size and SHA-256 its manifest entry records."""
    try:
        return path.stat().st_size == entry.get("size") and assets.sha256_of(path) == entry.get("sha256")
    except OSError:
        return False


def resolve(variant: str, cache: Path) -> Path:
    """The model file for `variant` (verified); the official model when the variant is unusable."""
    official = assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, cache), cache)
    if variant in ("", OFFICIAL):
        return official
    entry = read_manifest(cache).get("variants", {}).get(variant)
    path = cache / variant_filename(variant)
    if entry is None or not matches(path, entry):
        log.warning("model variant %s is missing or altered in %s; using the official model "
                    "(rebuild with `smile-mirror model build`)", variant, cache)
        return official
    if not entry.get("gate", {}).get("passed"):
        log.warning("model variant %s did not pass the accuracy gate; using the official model", variant)
        return official
    return path


def describe(model: Path) -> str:
    """'official float16' or 'variant <name>' for a model file (named in bench and diagnostics)."""
    try:
        digest = assets.sha256_of(model)
    except OSError:
        return "unknown"
    if digest == assets.MODEL.sha256:
        return "official float16"
    for name, entry in read_manifest(model.parent).get("variants", {}).items():
        if entry.get("sha256") == digest:
            return f"variant {name}"
    return "unknown (not the official model, not a built variant)"
