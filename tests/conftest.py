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


def observe_frames(model_path: Path, frames, period_ms: float = 1000.0 / 15) -> list:
    """Run the real landmarker (VIDEO mode, as the mirror does) over frames at `period_ms`
    apart; returns the first face of each frame (None where there is none)."""
    from core.landmarker import MediapipeLandmarker

    out = []
    with MediapipeLandmarker(model_path) as lm:
        for i, rgb in enumerate(frames):
            faces = lm.detect(rgb, i * period_ms)
            out.append(faces[0] if faces else None)
    return out


def held_face_frames(photo: np.ndarray, n: int = 150, seed: int = 1) -> list[np.ndarray]:
    """A real face held still in front of a camera: the photo with a slow sway of a pixel or two
    and sensor noise (sigma 3 grey levels) in every frame, 640x480."""
    rgb = cv2.resize(photo, (640, 640))[80:560]
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        t = i * 1000.0 / 15
        dx = 1.5 * np.sin(t / 900) + rng.normal(0, 0.3)
        dy = 1.0 * np.cos(t / 1300) + rng.normal(0, 0.3)
        shifted = cv2.warpAffine(rgb, np.float32([[1, 0, dx], [0, 1, dy]]), (640, 480), borderMode=cv2.BORDER_REFLECT)
        frames.append(np.clip(shifted + rng.normal(0, 3, shifted.shape), 0, 255).astype(np.uint8))
    return frames


@pytest.fixture(scope="session")
def held_face_series(model_path: Path, astronaut: np.ndarray) -> list:
    """Ten seconds of real observations (15 per second) of a real face held still."""
    return observe_frames(model_path, held_face_frames(astronaut))


@pytest.fixture(scope="session")
def swaying_face_series(model_path: Path, model_cache: Path) -> list:
    """Ten seconds of real observations (15 per second) of the demo face drifting, turning and
    zooming as a visitor sways in front of the mirror."""
    from core.sources.demo import DemoSource

    demo = DemoSource(size=(640, 480), fps=30, pace=False, cache=model_cache)
    frames = [demo.read().rgb for _ in range(300)][::2]
    return observe_frames(model_path, frames)


def unsmile(rgb: np.ndarray, landmarker) -> np.ndarray:
    """The same real photo with its smile taken away: the lips closed and the mouth corners
    moved in and down by a smooth warp around the landmarks, the eyes left as they are. The
    astronaut portrait at 512x512 (score ~78) reads ~28 after it: a neutral-to-smile pair from one
    public photo, for tests that need a smile at a known frame without ../shared/data."""
    faces = landmarker.detect(rgb, 0.0)
    assert faces, "unsmile needs a face in the photo"
    h, w = rgb.shape[:2]
    pts = faces[0].landmarks[:, :2] * np.array([w, h], np.float32)
    left, right, upper, lower = pts[61], pts[291], pts[13], pts[14]
    mid = (left + right) / 2
    width = float(np.linalg.norm(right - left))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = xx.copy(), yy.copy()
    gap = max(2.0, float(lower[1] - upper[1]))
    cy = float(upper[1] + lower[1]) / 2
    across = np.exp(-((xx - mid[0]) / (0.42 * width)) ** 8)
    near = np.exp(-((yy - cy) / (1.6 * gap)) ** 2)
    my += np.sign(yy - cy) * (gap / 2 + 2) * across * near  # close the lips over the teeth
    for corner in (left, right):
        target = corner + np.array([(mid[0] - corner[0]) * 0.18, 0.22 * width], np.float32)
        g = np.exp(-(((xx - target[0]) ** 2 + (yy - target[1]) ** 2) / (2 * (0.22 * width) ** 2)))
        mx += g * (corner[0] - target[0])
        my += g * (corner[1] - target[1])
    return cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


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
