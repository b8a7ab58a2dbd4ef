"""The installed environment is the one the lock files promise."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CV2_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                     "opencv-contrib-python-headless")


def installed(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def test_exactly_one_cv2_distribution() -> None:
    present = [d for d in CV2_DISTRIBUTIONS if installed(d)]
    assert present == ["opencv-python-headless"], f"two cv2 builds overwrite each other: {present}"


def test_the_environment_matches_a_lock_file() -> None:
    mediapipe = installed("mediapipe")
    lock = REPO / "requirements" / ("mediapipe-0.10.txt" if mediapipe.startswith("0.10") else "mediapipe-1.txt")
    pins = dict(line.split()[0].split("==") for line in lock.read_text().splitlines()
                if "==" in line and not line.startswith("#"))  # "name==version \" (its hashes follow)
    wrong = {name: (want, installed(name)) for name, want in pins.items() if installed(name) != want}
    assert not wrong, f"installed versions differ from {lock.name}: {wrong}"


def test_unused_heavy_dependencies_are_absent() -> None:
    for name in ("jax", "jaxlib", "sounddevice", "sentencepiece"):
        assert installed(name) is None, f"{name} is installed but the Tasks API never imports it"


@pytest.mark.parametrize("module", ["core.config", "core.scoring", "core.scheduler", "core.sources"])
def test_core_imports_no_pygame_or_mediapipe(module: str) -> None:
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted(m for m in ('pygame', 'mediapipe') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.strip() == "[]"
