"""Face Landmarker variants at run time: which model file the mirror loads.

The variants (`float32`, `int8-weights`, `int8-dynamic`, `int8`) are built from the verified official bundle by
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
import zipfile
from pathlib import Path
from typing import Any

from core import assets
from core.safe_io import read_regular

log = logging.getLogger(__name__)

OFFICIAL = "official"
VARIANTS = ("float32", "int8-weights", "int8-dynamic", "int8")
CHOICES = (OFFICIAL, *VARIANTS)
MANIFEST = "variants.json"


def variant_filename(variant: str) -> str:
    return assets.MODEL.filename if variant == OFFICIAL else f"face_landmarker-{variant}.task"


def manifest_path(cache: Path) -> Path:
    return cache / MANIFEST


def read_manifest(cache: Path) -> dict[str, Any]:
    """The manifest, with every entry that is not shaped as `model build` writes it left out
    (a hand-edited or damaged file must never reach the loader or raise at start)."""
    try:
        data = json.loads(read_regular(manifest_path(cache), limit=1 << 20, what="variant manifest"))
    except (OSError, ValueError, RecursionError):
        return {"variants": {}}
    if not isinstance(data, dict) or data.get("source_sha256") != assets.MODEL.sha256:
        return {"variants": {}}
    entries = data.get("variants")
    data["variants"] = {name: entry for name, entry in (entries.items() if isinstance(entries, dict) else ())
                        if name in VARIANTS and isinstance(entry, dict) and isinstance(entry.get("gate", {}), dict)
                        and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)}
    return data


# the three TFLite models a Face Landmarker bundle holds
BUNDLE_MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")


def bundle_problem(path: Path) -> str | None:
    """Why `path` is not a Face Landmarker bundle (a zip of the three TFLite flatbuffers), or None.
    A file whose checksum matches a forged manifest is still refused here, before mediapipe."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            for member in BUNDLE_MEMBERS:
                if member not in names:
                    return f"it has no {member}"
                with zf.open(names[member]) as fh:
                    if fh.read(8)[4:8] != b"TFL3":
                        return f"its {member} is not a TFLite model"
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        return f"it is not a model bundle ({exc})"
    return None


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
    problem = bundle_problem(path)
    if problem is not None:
        log.warning("model variant %s in %s is broken (%s); using the official model (rebuild with "
                    "`smile-mirror model build`)", variant, cache, problem)
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
