"""The mouth patch (cut by landmarks from the frame) and its numpy HOG, against independent
references and on the real landmarker."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from core.hog import BINS, CELL, CLIP, hog, hog_size
from core.mouth_patch import MOUTH, PATCH_H, PATCH_W, mouth_patch


def reference_hog(img: np.ndarray) -> np.ndarray:
    """The same recipe written plainly, pixel by pixel and block by block."""
    img = img.astype(float)
    h, w = img.shape
    cy, cx = h // CELL, w // CELL
    hist = np.zeros((cy, cx, BINS))
    for y in range(h):
        for x in range(w):
            gx = img[y, min(x + 1, w - 1)] - img[y, max(x - 1, 0)]
            gy = img[min(y + 1, h - 1), x] - img[max(y - 1, 0), x]
            mag, ang = math.hypot(gx, gy), math.degrees(math.atan2(gy, gx)) % 180.0
            pos = ang / (180.0 / BINS) - 0.5
            lo = math.floor(pos)
            hist[y // CELL, x // CELL, lo % BINS] += mag * (1 - (pos - lo))
            hist[y // CELL, x // CELL, (lo + 1) % BINS] += mag * (pos - lo)
    out = []
    for by in range(cy - 1):
        for bx in range(cx - 1):
            v = np.concatenate([hist[by, bx], hist[by, bx + 1], hist[by + 1, bx], hist[by + 1, bx + 1]])
            v = v / math.sqrt((v ** 2).sum() + 1e-6)
            v = np.minimum(v, CLIP)
            out.append(v / math.sqrt((v ** 2).sum() + 1e-6))
    return np.concatenate(out)


@pytest.mark.parametrize("seed", range(3))
def test_hog_matches_the_plain_reference(seed: int) -> None:
    patch = np.random.default_rng(seed).integers(0, 256, (PATCH_H, PATCH_W)).astype(np.uint8)
    got = hog(patch)
    assert got.shape == (hog_size(PATCH_H, PATCH_W),) == (360,)
    assert got == pytest.approx(reference_hog(patch), abs=1e-5)


def test_hog_puts_stripes_in_their_orientation_bin() -> None:
    y = np.arange(PATCH_H)[:, None] * np.ones(PATCH_W)
    horizontal = (128 + 100 * np.sin(y * 0.8)).astype(np.uint8)  # intensity changes along y: gradient at 90 deg
    bins = hog(horizontal).reshape(-1, 4, BINS).sum((0, 1))
    assert int(np.argmax(bins)) == 4  # the bin centred on 90 deg
    vertical = horizontal.T[:PATCH_H, :PATCH_H].repeat(2, axis=1)  # gradient at 0 deg: bins 0 and 8 share it
    bins = hog(np.ascontiguousarray(vertical)).reshape(-1, 4, BINS).sum((0, 1))
    assert set(np.argsort(bins)[-2:]) == {0, 8}


def test_hog_blocks_are_unit_length_and_a_flat_patch_is_all_zero() -> None:
    blocks = hog(np.random.default_rng(0).integers(0, 256, (PATCH_H, PATCH_W)).astype(np.uint8)).reshape(-1, 36)
    assert np.linalg.norm(blocks, axis=1) == pytest.approx(1.0, abs=1e-4)
    assert not hog(np.full((PATCH_H, PATCH_W), 90, np.uint8)).any()


def test_hog_rejects_a_patch_it_cannot_cut_into_cells() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        hog(np.zeros((20, 48), np.uint8))


def face_marks(centre: tuple[float, float], iod: float, angle_deg: float, size: tuple[int, int]) -> np.ndarray:
    """Normalised landmarks with the eye corners and mouth points of a face tilted by `angle_deg`."""
    a = math.radians(angle_deg)
    u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    c = np.array(centre)
    pts = np.zeros((478, 3), np.float32)
    for i, (x, y) in {33: (-0.72, 0), 133: (-0.28, 0), 263: (0.72, 0), 362: (0.28, 0),
                      61: (-0.4, 1.1), 291: (0.4, 1.1), 0: (0, 1.0), 17: (0, 1.2)}.items():
        p = c + iod * (x * u + y * v)
        pts[i, :2] = p[0] / size[0], p[1] / size[1]
    return pts


def test_the_patch_is_levelled_by_the_eye_line() -> None:
    import cv2

    w, h = 400, 400
    img = np.full((h, w, 3), 200, np.uint8)
    pts = face_marks((200, 150), 80, 0, (w, h))
    mouth = (pts[list(MOUTH), :2].mean(0) * (w, h)).round().astype(int)
    cv2.ellipse(img, tuple(int(v) for v in mouth), (45, 12), 0, 0, 360, (40, 20, 20), -1)  # a dark open mouth
    level = mouth_patch(img, pts)
    assert level is not None and level.shape == (PATCH_H, PATCH_W) and level.dtype == np.uint8
    assert level[PATCH_H // 2, PATCH_W // 2] < 80 and level[0, 0] > 150  # the mouth in the middle
    rot = cv2.getRotationMatrix2D((200.0, 200.0), -25.0, 1.0)  # turn photo and landmarks together by 25 deg
    turned = cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    tp = pts.copy()
    xy = np.c_[pts[:, :2] * (w, h), np.ones(478)] @ rot.T
    tp[:, :2] = xy / (w, h)
    again = mouth_patch(turned, tp)
    assert again is not None
    assert np.abs(again.astype(int) - level.astype(int)).mean() < 6  # the same patch, up to resampling


def test_a_large_face_is_averaged_down_not_aliased() -> None:
    w = h = 1600
    img = np.zeros((h, w, 3), np.uint8)
    img[:, ::2] = 255  # 1 px stripes: far finer than a patch pixel once the face is this big
    patch = mouth_patch(img, face_marks((800, 500), 400, 0, (w, h)))
    assert patch is not None and abs(float(patch.mean()) - 127.5) < 10 and patch.std() < 12  # point sampling: ~127


def test_unusable_landmarks_give_no_patch() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    assert mouth_patch(img, np.zeros((478, 3), np.float32)) is None  # both eyes on one point
    assert mouth_patch(img, np.full((478, 3), np.nan, np.float32)) is None


@pytest.mark.model
def test_the_landmarker_cuts_the_same_mouth_from_a_window_and_from_the_frame(model_path: Path, astronaut: np.ndarray) -> None:
    """Every observation carries its patch; the zoom (a window of the frame) gives the same one."""
    from core.landmarker import MediapipeLandmarker
    from core.zoom import to_frame

    with MediapipeLandmarker(model_path, still=True) as lm:
        whole = lm.detect(astronaut, 0.0)[0]
        window = (64, 0, 384, 384)
        part = to_frame(lm.detect(np.ascontiguousarray(astronaut[0:384, 64:448]), 0.0)[0], window, (512, 512))
    assert whole.mouth is not None and part.mouth is not None
    assert np.array_equal(whole.mouth, mouth_patch(astronaut, whole.landmarks))
    assert np.abs(whole.mouth.astype(int) - part.mouth.astype(int)).mean() < 8
    assert float(np.corrcoef(hog(whole.mouth), hog(part.mouth))[0, 1]) > 0.9
