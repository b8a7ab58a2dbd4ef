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


# ---- two real people, one smile following another ---------------------------------------------

TILE = (320, 540)  # one person's part of a group video (two make a 640x540 camera frame)
# The contagion video's timeline (seconds): both neutral, A smiles, B follows, B walks away.
CONTAGION = {"a_smiles": 1.5, "b_smiles": 2.7, "b_leaves": 4.2, "end": 5.2}


def grace_hopper() -> np.ndarray:
    """Matplotlib's sample portrait of Grace Hopper (public domain): a real face that the model
    reads as not smiling (about 20). Matplotlib is pinned in every lock (mediapipe imports it)."""
    from matplotlib import cbook

    return load_rgb(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


def face_tile(rgb: np.ndarray, lm, size: tuple[int, int] = TILE) -> np.ndarray:
    """The photo cropped around its face so every face has the same size and place in a tile."""
    faces = lm.detect(rgb, 0.0)
    assert faces, "test photo without a face"
    x0, y0, x1, y1 = faces[0].box
    h, w = rgb.shape[:2]
    cx, cy, fw = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h, (x1 - x0) * w
    cw = 2.3 * fw
    ch = cw * size[1] / size[0]
    m = np.float32([[size[0] / cw, 0, size[0] / 2 - cx * size[0] / cw],
                    [0, size[1] / ch, size[1] * 0.52 - cy * size[1] / ch]])
    return cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="session")
def contagion_video(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """Two people side by side, recorded at 30 fps: both neutral (Grace Hopper's portrait, read
    as about 20), then the left one smiles (the astronaut, about 80) at 1.5 s, the right one
    follows 1.2 s later (inside the 0.3-3 s window of facial mimicry), and at 4.2 s the right
    one walks away (the empty room: the cat). The right person is the mirrored photos, and both
    sway a little, so tracking by position is exercised. Faces read as stated with the shipped
    model (checked by the tests that use it)."""
    from core.landmarker import MediapipeLandmarker

    with MediapipeLandmarker(model_cache / assets.MODEL.filename, still=True) as lm:
        neutral = face_tile(grace_hopper(), lm)
        smile = face_tile(load_rgb(model_cache / assets.ASTRONAUT.filename), lm)
    people = [(neutral, smile), (neutral[:, ::-1].copy(), smile[:, ::-1].copy())]
    empty = cv2.resize(load_rgb(model_cache / assets.CHELSEA.filename), TILE)
    fps, c = 30, CONTAGION
    frames = []
    for i in range(int(c["end"] * fps)):
        t = i / fps
        sway = int(8 * np.sin(t * 2.2))
        a = people[0][1] if t >= c["a_smiles"] else people[0][0]
        b = empty if t >= c["b_leaves"] else people[1][1] if t >= c["b_smiles"] else people[1][0]
        frames.append(np.hstack([np.roll(a, sway, axis=1), np.roll(b, -sway, axis=1) if b is not empty else b]))
    return write_video(tmp_path_factory.mktemp("group") / "contagion.avi", frames, fps)
