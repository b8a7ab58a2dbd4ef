"""Shared fixtures: the real model provisioned as a user would, real images, recorded videos.

No camera, no screen (SDL's dummy driver), no internet beyond the package registries that
`smile-mirror model fetch` itself uses.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("GLOG_minloglevel", "2")
import core  # noqa: E402,F401  (sets OpenCV's image size limit before cv2 loads, as the program does)

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core import assets  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    """../shared/data beside the clone (CI and developers have it; a fresh clone may not)."""
    for candidate in (os.environ.get("SMILE_MIRROR_DATA"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate, "genki4k-dev", "labels.csv").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The user's cache folder holding the verified model and the scikit-image test images,
    provisioned exactly as `smile-mirror model fetch` does."""
    folder = assets.default_cache_dir()
    for asset in (assets.MODEL, assets.ASTRONAUT, assets.CHELSEA):
        assets.ensure(asset, folder)
    return folder


@pytest.fixture(scope="session")
def model_path(model_cache: Path) -> Path:
    return model_cache / assets.MODEL.filename


def load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def astronaut(model_cache: Path) -> np.ndarray:
    return load_rgb(model_cache / assets.ASTRONAUT.filename)


@pytest.fixture(scope="session")
def chelsea(model_cache: Path) -> np.ndarray:
    return load_rgb(model_cache / assets.CHELSEA.filename)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """Record RGB frames to an MJPG .avi with OpenCV, as a camera recording would be."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="session")
def face_video(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """Two seconds of the moving demo face, then one second of a cat (no face), at 30 fps."""
    from core.sources.demo import DemoSource

    demo = DemoSource(size=(640, 480), fps=30, pace=False, cache=model_cache)
    frames = [demo.read().rgb for _ in range(60)]
    cat = cv2.resize(load_rgb(model_cache / assets.CHELSEA.filename), (640, 480))
    frames += [cat] * 30
    return write_video(tmp_path_factory.mktemp("video") / "face_then_cat.avi", frames)
