"""The digital zoom finds and tracks faces too small for MediaPipe's detector (real model, real face)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.config import Config
from core.landmarker import MediapipeLandmarker, box_of
from core.scoring import score_face
from core.types import FaceObservation
from core.zoom import FACE_SHARE, ZoomingLandmarker, face_landmarker, search_windows, to_frame, window_around


# ---- pure geometry --------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (333, 251)])
def test_search_windows_cover_the_frame_centre_first(size: tuple[int, int]) -> None:
    w, h = size
    windows = search_windows(w, h)
    assert len(windows) == 9
    covered = np.zeros((h, w), bool)
    for x0, y0, cw, ch in windows:
        assert (cw, ch) == (w // 2, h // 2) and 0 <= x0 <= w - cw and 0 <= y0 <= h - ch
        covered[y0:y0 + ch, x0:x0 + cw] = True
    assert covered.all()
    x0, y0, cw, ch = windows[0]
    assert abs(x0 + cw / 2 - w / 2) <= 1 and abs(y0 + ch / 2 - h / 2) <= 1
    assert windows[1][1] == 0  # then the upper middle: where a face sits in a mirror camera's view


def test_to_frame_maps_window_coordinates_to_the_frame() -> None:
    pts = np.zeros((478, 3), np.float32)
    pts[0] = (0.5, 0.5, 0.1)
    pts[1] = (1.0, 0.0, -0.2)
    patch = np.arange(24 * 48, dtype=np.uint8).reshape(24, 48)
    obs = FaceObservation(t_ms=5.0, landmarks=pts, blendshapes={"jawOpen": 0.2}, box=box_of(pts),
                          image_size=(200, 100), mouth=patch)
    out = to_frame(obs, (100, 50, 200, 100), (800, 600))
    assert out.mouth is patch  # cut at the frame's own resolution: the window changes nothing in it
    px = out.points_px()
    assert px[0, :2] == pytest.approx((200, 100))
    assert px[1, :2] == pytest.approx((300, 50))
    assert px[0, 2] == pytest.approx(0.1 * 200)  # z keeps its size in pixels
    assert out.image_size == (800, 600) and out.blendshapes == {"jawOpen": 0.2} and out.t_ms == 5.0


@pytest.mark.parametrize("box", [(0.45, 0.3, 0.52, 0.4), (0.0, 0.0, 0.06, 0.08), (0.93, 0.9, 1.0, 1.0)])
def test_window_around_puts_the_face_at_a_third_of_the_width_inside_the_frame(box) -> None:
    x0, y0, cw, ch = window_around(box, (640, 480))
    assert 0 <= x0 <= 640 - cw and 0 <= y0 <= 480 - ch
    assert ch == round(cw * 480 / 640)
    assert (box[2] - box[0]) * 640 / cw == pytest.approx(FACE_SHARE, rel=0.02)


# ---- with the real model --------------------------------------------------------------------

@pytest.fixture(scope="module")
def face_box(astronaut: np.ndarray, model_path: Path) -> tuple[float, float, float, float]:
    """The astronaut's face box in the photo's pixels (landmark extent)."""
    with MediapipeLandmarker(model_path, still=True) as lm:
        pts = lm.detect(astronaut, 0.0)[0].points_px()
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def scene(photo: np.ndarray, box, share: float, centre: tuple[float, float], size=(640, 480)) -> np.ndarray:
    """A grey frame with the photo scaled so the face is `share` of the frame width, its centre at `centre`."""
    w, h = size
    s = share * w / (box[2] - box[0])
    small = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    fx, fy = (box[0] + box[2]) / 2 * s, (box[1] + box[3]) / 2 * s
    m = np.float32([[1, 0, centre[0] - fx], [0, 1, centre[1] - fy]])
    return cv2.warpAffine(small, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))


def run(lm, frames: list[np.ndarray]) -> list[list[FaceObservation]]:
    return [lm.detect(f, i * 33.3) for i, f in enumerate(frames)]


def test_the_detector_alone_misses_a_face_under_a_tenth_of_the_frame(model_path, astronaut, face_box) -> None:
    frames = [scene(astronaut, face_box, 0.08, (320, 200))] * 20
    with MediapipeLandmarker(model_path) as lm:
        assert not any(run(lm, frames)), "the detector now finds small faces: the zoom may be unnecessary"


def test_zoom_finds_and_tracks_a_small_moving_face(model_path, astronaut, face_box) -> None:
    centres = [(320 + 60 * np.sin(i / 12), 200 + 15 * np.cos(i / 9)) for i in range(60)]
    frames = [scene(astronaut, face_box, 0.08, c) for c in centres]
    lm = ZoomingLandmarker(MediapipeLandmarker(model_path))
    with lm:
        found = run(lm, frames)
    hits = [i for i, f in enumerate(found) if f]
    assert hits and hits[0] <= 3, f"found first on call {hits[:1]}: the centre window comes second"
    assert len(hits) >= 0.95 * (60 - hits[0]), "".join("x" if f else "." for f in found)
    assert lm.zoomed > 0
    for i in hits:  # landmarks are in frame coordinates, on the face (tracking trails a moving face a little)
        b = found[i][0].box
        cx, cy = (b[0] + b[2]) / 2 * 640, (b[1] + b[3]) / 2 * 480
        assert abs(cx - centres[i][0]) < 0.2 * 0.08 * 640 and abs(cy - centres[i][1]) < 0.2 * 0.08 * 640
        assert (b[2] - b[0]) == pytest.approx(0.08, rel=0.15)
    scores = [score_face(found[i][0]).score for i in hits]
    assert np.median(scores) >= 50, "the astronaut's smile must read as a smile from afar too"


def test_zoom_searches_the_whole_frame(model_path, astronaut, face_box) -> None:
    frames = [scene(astronaut, face_box, 0.07, (560, 420))] * 24  # bottom-right corner
    with ZoomingLandmarker(MediapipeLandmarker(model_path)) as lm:
        found = run(lm, frames)
    hits = [i for i, f in enumerate(found) if f]
    assert hits and hits[0] < 18, "one sweep (9 windows between full frames) must reach every corner"
    assert all(found[hits[0]:])


def test_zoom_looks_first_where_something_moved(model_path, astronaut, face_box) -> None:
    empty = [np.full((480, 640, 3), 90, np.uint8)] * 7
    arrives = [scene(astronaut, face_box, 0.07, (560, 420))] * 10  # walks into the bottom-right corner
    with ZoomingLandmarker(MediapipeLandmarker(model_path)) as lm:
        found = run(lm, empty + arrives)
    hits = [i - len(empty) for i, f in enumerate(found) if f]
    assert hits and hits[0] <= 3, f"found {hits[:1]} calls after it arrived; the sweep alone would take up to 18"


def test_window_nearest_motion_points_at_the_change() -> None:
    from core.zoom import THUMB, window_nearest_motion

    before = np.zeros(THUMB[::-1], np.int16)
    now = before.copy()
    assert window_nearest_motion(before, now, search_windows(640, 480), (640, 480)) is None
    now[2:5, 1:4] = 100  # top-left corner changed
    assert window_nearest_motion(before, now, search_windows(640, 480), (640, 480)) == (0, 0, 320, 240)


def test_a_near_face_never_uses_a_window(model_path, astronaut, face_box) -> None:
    frames = [scene(astronaut, face_box, 0.3, (320 + 3 * i, 220)) for i in range(20)]
    with MediapipeLandmarker(model_path) as plain:
        expected = run(plain, frames)
    lm = ZoomingLandmarker(MediapipeLandmarker(model_path))
    with lm:
        found = run(lm, frames)
    assert lm.zoomed == 0 and all(found)
    for a, b in zip(expected, found):  # the wrapper changes nothing for a face the detector sees
        assert np.array_equal(a[0].landmarks, b[0].landmarks)


def test_zoom_lets_go_when_the_face_leaves_and_comes_closer(model_path, astronaut, face_box) -> None:
    far = [scene(astronaut, face_box, 0.08, (320, 200))] * 12
    empty = [np.full((480, 640, 3), 90, np.uint8)] * 6
    near = [scene(astronaut, face_box, 0.3, (320, 240))] * 8
    lm = ZoomingLandmarker(MediapipeLandmarker(model_path))
    with lm:
        found = run(lm, far + empty + near)
    assert any(found[:12]) and not any(found[12:18])
    assert all(found[19:]), "a near face is found on the full frame within two calls"
    assert lm.window is None


def test_still_photos_with_a_small_face_are_scored(model_path, astronaut, face_box) -> None:
    photo = scene(astronaut, face_box, 0.07, (1100, 400), size=(1600, 1200))
    with MediapipeLandmarker(model_path, still=True) as plain:
        assert plain.detect(photo, 0.0) == []
    with contextlib.closing(face_landmarker(model_path, still=True)) as lm:
        faces = lm.detect(photo, 0.0)
    assert faces and score_face(faces[0]).score >= 50


def test_zoom_can_be_turned_off_and_never_applies_to_several_faces(model_path) -> None:
    from core.backends.litert import LiteRTLandmarker

    for backend, bare in (("mediapipe", MediapipeLandmarker), ("litert", LiteRTLandmarker)):
        with contextlib.closing(face_landmarker(model_path, backend=backend)) as lm:
            assert isinstance(lm, ZoomingLandmarker) and isinstance(lm.inner, bare)
        for lm in (face_landmarker(model_path, zoom=False, backend=backend),
                   face_landmarker(model_path, max_faces=2, backend=backend)):
            with contextlib.closing(lm):
                assert isinstance(lm, bare)
    assert Config().replace({"pipeline.zoom": False}).pipeline.zoom is False


def test_score_command_finds_a_small_face(tmp_path: Path, model_path, astronaut, face_box, capsys) -> None:
    from kiosk.cli import main

    path = tmp_path / "far.png"
    cv2.imwrite(str(path), cv2.cvtColor(scene(astronaut, face_box, 0.07, (1100, 400), size=(1600, 1200)),
                                        cv2.COLOR_RGB2BGR))
    assert main(["score", str(path), "--model", str(model_path)]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["face"] is True and record["score"] >= 50


def test_eval_distant_views_a_labelled_folder_from_afar(tmp_path: Path, model_path, astronaut) -> None:
    import io

    from core.offline.evaluate import run_eval

    cv2.imwrite(str(tmp_path / "astronaut.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    (tmp_path / "labels.csv").write_text("path,label\nastronaut.png,smile\n")
    for zoom in (True, False):
        out = io.StringIO()
        assert run_eval(tmp_path, model_path, distant=(800, 600), zoom=zoom, out=out) == 0
        text = out.getvalue()
        assert f"in a 800x600 frame; zoom {'on' if zoom else 'off'}" in text
        # a 64 px face is 8% of 800 px: only the zoom finds it
        assert ("1 faces found" if zoom else "0 faces found") in text, text


@pytest.mark.model
@pytest.mark.slow
def test_dev_faces_64_80_px_in_a_640x480_frame_are_found_and_scored(model_path) -> None:
    """A fixed 300 GENKI dev photos seen from about 1 m: the detector alone found 74% of such
    faces in a 600-photo run, the zoom 99%; accuracy on found faces stays above 0.92."""
    import io
    import re

    from tests.conftest import shared_data
    from core.offline.evaluate import run_eval

    data = shared_data()
    if data is None:
        pytest.skip("dev photos not present (../shared/data/genki4k-dev or $SMILE_MIRROR_DATA); "
                    "they are not part of the repository")
    out = io.StringIO()
    assert run_eval(data / "genki4k-dev", model_path, limit=300, distant=(640, 480), out=out) == 0
    text = out.getvalue()
    found = int(re.search(r"(\d+) faces found", text).group(1))
    acc = float(re.search(r"accuracy at score >= 50: ([0-9.]+) on faces found", text).group(1))
    assert found >= 294 and acc >= 0.92, text
