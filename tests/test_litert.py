"""The LiteRT backend: the real models on real images and recorded video, against mediapipe."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.backends import facemesh as fm
from core.backends import make_landmarker, resolve
from core.backends.geometry import parse_metadata
from core.backends.litert import LiteRTLandmarker, read_bundle
from core.landmarker import MediapipeLandmarker
from core.parity import ParityReport, compare, run_parity
from tests.conftest import REPO, shared_data

BIN = Path(sys.executable).parent


def px_error(a, b) -> float:
    w, h = a.image_size
    return float(np.linalg.norm((a.landmarks[:, :2] - b.landmarks[:, :2]) * np.array([w, h]), axis=1).mean())


def test_anchors_and_nms_follow_the_detector_graph() -> None:
    anchors = fm.ssd_anchors()
    assert anchors.shape == (896, 2)
    assert np.allclose(anchors[0], (0.5 / 16, 0.5 / 16)) and np.allclose(anchors[512], (0.5 / 8, 0.5 / 8))
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    kps = np.zeros((3, 6, 2))
    kps[1] += 2.0
    merged = fm.weighted_nms(boxes, np.array([0.9, 0.3, 0.8]), kps, 0.5)
    assert len(merged) == 2 and merged[0][1] == 0.9
    assert np.allclose(merged[0][0], [0.25, 0.25, 10.25, 10.25])  # score-weighted mean of the two
    assert np.allclose(merged[0][2], 0.5)


def test_crop_maps_corners_to_corners() -> None:
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, 100:] = 255
    out = fm.crop(rgb, fm.Roi(100.0, 50.0, 100.0, 100.0), 100, zero_border=True)
    assert out[:, :49].max() == 0 and out[:, 51:].min() == 255  # the edge stays in the middle, unshifted
    pts = fm.to_image(np.array([[0.0, 0.0], [1.0, 1.0]]), fm.Roi(100.0, 50.0, 100.0, 40.0, np.pi / 2))
    assert np.allclose(pts, [[120, 0], [80, 100]])


def test_crop_samples_in_opencvs_fixed_point_as_mediapipe_does() -> None:
    """mediapipe's OpenCV warps uint8 in fixed point (1/32-pixel positions, halves rounded up);
    OpenCV >= 4.11's float warp rounds halves to even and lands a grey level off."""
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 1::2] = 1  # columns 0 1 0 1 ...: every sample halfway between two is 0.5
    out = fm.crop(rgb, fm.Roi(4.0, 4.0, 8.0, 8.0), 16, zero_border=False)
    assert (out[:, 1:15:2] == 1).all() and (out[:, 0:16:4] == 0).all()
    rgb = np.zeros((4, 32, 3), np.uint8)
    rgb[:, 16:] = 255  # a step from column 15 to 16
    out = fm.crop(rgb, fm.Roi(16.0, 2.0, 32.0, 4.0), 32 * 64, zero_border=False)  # 1/64-pixel steps
    assert len(np.unique(out[2, 15 * 64:16 * 64, 0])) == 33  # positions rounded to 1/32 pixel (0/32..32/32), not 64


def _random_crops(n: int, seed: int):
    """Random frames with rotated rectangles and letterboxes (whose 1/32 positions fall halfway)."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        img = rng.integers(0, 256, (480, 640, 3), np.uint8)
        roi = fm.Roi(rng.uniform(-50, 700), rng.uniform(-50, 530), rng.uniform(5, 1500), rng.uniform(5, 1500),
                     rng.uniform(-3.2, 3.2) if k % 3 else 0.0)
        if k % 5 == 0:
            roi = fm.letterbox_roi(int(rng.integers(16, 2000)), int(rng.integers(16, 2000)))
        yield img, roi, (fm.LANDMARKS_SIZE, fm.DETECTOR_SIZE)[k % 2], bool(k % 4 == 1)


@pytest.mark.skipif(not fm.opencv_warps_in_fixed_point(), reason=f"OpenCV {cv2.__version__} warps in floating point")
def test_the_maps_cut_what_opencvs_classic_warp_cuts() -> None:
    """Where OpenCV is still the classic fixed-point warp (the Pi's lock, generation 0.10), its own
    warpPerspective is the crop, and the maps that stand in for it elsewhere agree pixel for pixel."""
    for img, roi, size, zero in _random_crops(200, 5):
        m = fm.crop_matrix(roi, size)
        border = cv2.BORDER_CONSTANT if zero else cv2.BORDER_REPLICATE
        own = cv2.warpPerspective(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
        assert np.array_equal(own, fm.remap_crop(img, m, size, zero_border=zero))
        assert np.array_equal(own, fm.crop(img, roi, size, zero_border=zero))


def test_a_crop_cut_in_two_halves_is_the_whole_crop() -> None:
    """Two threads each cut half of the landmark model's input: the same numbers as one whole."""
    half = fm.LANDMARKS_SIZE // 2
    for img, roi, _, _ in _random_crops(60, 6):
        whole = fm.landmarks_input(img, roi)
        parts = np.full_like(whole, np.nan)
        fm.landmarks_input_rows(img, roi, (half, fm.LANDMARKS_SIZE), parts[0, half:])
        fm.landmarks_input_rows(img, roi, (0, half), parts[0, :half])
        assert np.array_equal(parts, whole)


def test_geometry_metadata_is_read_without_protobuf(model_path: Path) -> None:
    g = parse_metadata(read_bundle(model_path)["geometry_pipeline_metadata_landmarks.binarypb"])
    assert g.canonical.shape == (3, 468) and (g.weights > 0).sum() > 10


def test_the_pose_fit_recovers_a_known_scale_rotation_and_shift(model_path: Path) -> None:
    """The weighted Procrustes fit (its canonical side worked out once) finds the similarity that
    made the points, and a reflection is never taken for a rotation."""
    geometry = parse_metadata(read_bundle(model_path)["geometry_pipeline_metadata_landmarks.binarypb"])
    fit, src = geometry.fit, geometry.canonical
    rng = np.random.default_rng(4)
    for _ in range(20):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        rot = q * np.sign(np.linalg.det(q))  # a proper rotation
        scale, shift = rng.uniform(0.01, 3.0), rng.normal(0, 20, 3)
        dst = scale * rot @ src[:, fit.index] + shift[:, None]
        s, r, t = fit.solve(dst)
        assert abs(s - scale) < 1e-9 * scale and np.allclose(r, rot, atol=1e-9) and np.allclose(t, shift, atol=1e-8)
        mirrored = dst * np.array([[-1.0], [1.0], [1.0]])
        assert np.linalg.det(fit.solve(mirrored)[1]) > 0


def test_litert_matches_mediapipe_on_the_astronaut(model_path: Path, astronaut: np.ndarray) -> None:
    with LiteRTLandmarker(model_path, still=True) as new, MediapipeLandmarker(model_path, still=True) as ref:
        a, b = ref.detect(astronaut, 0.0), new.detect(astronaut, 0.0)
    assert len(a) == len(b) == 1
    assert px_error(a[0], b[0]) < 0.05
    assert set(a[0].blendshapes) == set(b[0].blendshapes)
    assert max(abs(a[0].blendshapes[k] - b[0].blendshapes[k]) for k in a[0].blendshapes) < 0.01
    assert np.allclose(a[0].transform[:3, :3], b[0].transform[:3, :3], atol=0.01)
    assert np.allclose(a[0].transform[:3, 3], b[0].transform[:3, 3], atol=0.1)


def test_litert_finds_no_face_in_the_cat(model_path: Path, chelsea: np.ndarray) -> None:
    with LiteRTLandmarker(model_path, still=True) as lm:
        assert lm.detect(chelsea, 0.0) == []


def test_video_tracks_with_one_detection_and_matches_mediapipe(model_path: Path, face_video: Path) -> None:
    report = run_parity(face_video, model_path)
    s = report.summary()
    assert s["faces_compared"] >= 55 and s["faces_only_mediapipe"] == 0 and s["faces_only_litert"] <= 1
    assert s["landmark_error_px"]["mean"] < 0.5
    assert s["score_difference"]["p99"] < 2.0
    with LiteRTLandmarker(model_path) as lm:
        cap = cv2.VideoCapture(str(face_video))
        found = 0
        for i in range(60):
            ok, bgr = cap.read()
            found += bool(lm.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i * 33.3))
        cap.release()
        assert found == 60
        assert lm.detector_runs <= 3  # tracked from its own landmarks, not detected on every frame


@pytest.mark.skipif(not fm.opencv_warps_in_fixed_point(), reason=f"OpenCV {cv2.__version__} warps in floating point")
def test_the_maps_give_the_landmarker_what_opencvs_warp_gives(model_path: Path, face_video: Path,
                                                              astronaut: np.ndarray, monkeypatch) -> None:
    """An OpenCV that warps in floating point (4.11, 5.x: none of the locks, but a hand-made venv)
    gets its crops from the maps, cut in halves with two threads: the very same observations as
    OpenCV's own classic warp gives, on a video and on a still."""
    cap = cv2.VideoCapture(str(face_video))
    frames = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(20)]
    cap.release()

    def observe(threads: int) -> list:
        with LiteRTLandmarker(model_path, threads=threads) as lm:
            seen = [lm.detect(f, i * 33.3) for i, f in enumerate(frames)]
        with LiteRTLandmarker(model_path, still=True) as lm:
            return seen + [lm.detect(astronaut, 0.0)]

    own = {threads: observe(threads) for threads in (1, 2)}
    monkeypatch.setattr(fm, "opencv_warps_in_fixed_point", lambda: False)
    for threads in (1, 2):
        for a_faces, b_faces in zip(own[threads], observe(threads), strict=True):
            assert len(a_faces) == len(b_faces) == 1
            a, b = a_faces[0], b_faces[0]
            assert np.array_equal(a.landmarks, b.landmarks) and a.blendshapes == b.blendshapes
            assert np.array_equal(a.transform, b.transform) and np.array_equal(a.mouth, b.mouth)


def test_two_threads_see_what_one_sees(model_path: Path, face_video: Path) -> None:
    """With threads > 1 the blendshape model runs beside the pose and mouth work: same results."""
    cap = cv2.VideoCapture(str(face_video))
    frames = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(30)]
    cap.release()
    seen = []
    for threads in (1, 2):
        with LiteRTLandmarker(model_path, threads=threads) as lm:
            seen.append([lm.detect(f, i * 33.3) for i, f in enumerate(frames)])
    for one, two in zip(*seen):
        assert len(one) == len(two) == 1
        a, b = one[0], two[0]
        assert np.abs(a.landmarks - b.landmarks).max() < 1e-4
        assert max(abs(a.blendshapes[k] - b.blendshapes[k]) for k in a.blendshapes) < 1e-4
        assert np.allclose(a.transform, b.transform, atol=1e-4) and (a.mouth == b.mouth).all()


def test_two_faces_are_tracked_each_on_its_own(model_path: Path, astronaut: np.ndarray) -> None:
    face = cv2.resize(astronaut[0:300, 60:360], (320, 320))  # the face, a third of each half
    frame = np.zeros((320, 640, 3), np.uint8)
    frame[:, :320] = face
    frame[:, 320:] = face[:, ::-1]
    with LiteRTLandmarker(model_path, max_faces=4, search_ms=500) as lm:
        runs = []
        for i in range(10):
            faces = lm.detect(frame, i * 33.0)
            assert len(faces) == 2
            runs.append(lm.detector_runs)
        # the detector looks for newcomers about twice a second, not on every frame
        assert runs[-1] <= 3
    centres = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert centres[0] < 0.5 < centres[1]


@pytest.mark.skipif(shared_data() is None, reason="needs ../shared/data (genki4k-dev)")
def test_parity_on_dev_photos(model_path: Path) -> None:
    report = run_parity(shared_data() / "genki4k-dev", model_path, limit=60)
    s = report.summary()
    assert s["faces_only_mediapipe"] + s["faces_only_litert"] <= 1
    assert s["landmark_error_px"]["within_goal"] == 1.0
    assert s["score_difference"]["mean"] < 0.5 and s["eye_engagement_difference"]["mean"] < 1.0
    assert s["blendshape_max_error"]["within_goal"] >= 0.98  # 81% when the crop sampled in floating point


def test_parity_report_counts_faces_found_by_one_only(model_path: Path, astronaut: np.ndarray) -> None:
    with LiteRTLandmarker(model_path, still=True) as lm:
        faces = lm.detect(astronaut, 0.0)
    r = ParityReport()
    compare(r, faces, [])
    compare(r, [], faces)
    compare(r, faces, faces)
    s = r.summary()
    assert (s["faces_only_mediapipe"], s["faces_only_litert"], s["faces_compared"]) == (1, 1, 1)
    assert s["landmark_error_px"]["max"] == 0.0 and not r.passed()


def test_model_parity_command_on_real_photos(model_cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(model_cache / "astronaut.png", folder / "astronaut.png")
    shutil.copy(model_cache / "chelsea.png", folder / "chelsea.png")
    done = subprocess.run([str(BIN / "smile-mirror"), "model", "parity", str(folder), "--json"],
                          capture_output=True, text=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-500:]
    assert result["frames"] == 2 and result["faces_compared"] == 1 and result["passed"]


def test_backend_choice(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("litert") == "litert" and resolve("mediapipe") == "mediapipe"
    assert resolve("auto") == "litert"  # installed from the lock
    monkeypatch.setenv("SMILE_MIRROR_BACKEND", "mediapipe")
    assert resolve("auto") == "mediapipe"
    monkeypatch.setenv("SMILE_MIRROR_BACKEND", "tflite")
    with pytest.raises(ValueError, match="must be one of"):
        resolve("auto")
    monkeypatch.delenv("SMILE_MIRROR_BACKEND")
    lm = make_landmarker(model_path, backend="litert", threads=2)
    assert isinstance(lm, LiteRTLandmarker) and lm.threads == 2
    lm.close()


@pytest.mark.parametrize("mode", ["lobby", "photobooth", "group"])
def test_the_configured_backend_and_threads_reach_every_modes_landmarker(model_path: Path, mode: str) -> None:
    from core.backends import backend_of
    from core.config import Config
    from kiosk.build import build_landmarker
    from kiosk.modes import mode_class

    for backend, threads in (("litert", 3), ("mediapipe", 1)):
        config = Config().replace({"run.mode": mode, "model.backend": backend, "pipeline.threads": threads})
        lm = build_landmarker(config, model_path, mode_class(mode))
        try:
            assert backend_of(lm) == backend, (mode, backend, type(lm).__name__)
            inner = getattr(lm, "inner", lm)
            if backend == "litert":
                assert inner.threads == threads
        finally:
            lm.close()


def _inet_sockets(cmd: list[str], tmp_path: Path) -> list[str]:
    trace = tmp_path / "strace.txt"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace), *cmd],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-800:]
    return [line for line in trace.read_text().splitlines() if "AF_INET" in line]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is installed by .ci/run")
def test_litert_opens_no_socket_in_score_or_a_lobby_session(model_cache: Path, tmp_path: Path) -> None:
    cli = str(BIN / "smile-mirror")
    assert _inet_sockets([cli, "score", "--backend", "litert", str(model_cache / "astronaut.png")], tmp_path) == []
    assert _inet_sockets([cli, "run", "--backend", "litert", "--source", "demo", "--display", "headless",
                          "--frames", "60"], tmp_path) == []


def test_config_keys_exist() -> None:
    from core.config import Config, load_config  # noqa: F401

    c = Config().replace({"model.backend": "litert", "pipeline.threads": 3})
    assert c.model.backend == "litert" and c.pipeline.threads == 3
    with pytest.raises(ValueError):
        Config().replace({"pipeline.threads": 0})
    assert (REPO / "requirements" / "mediapipe-0.10.txt").read_text().count("ai-edge-litert==2.3.0") == 1


def test_a_face_that_fills_the_photo_is_found_with_a_border(model_path: Path, astronaut: np.ndarray) -> None:
    with LiteRTLandmarker(model_path, still=True) as lm:
        box = lm.detect(astronaut, 0.0)[0].box
        h, w = astronaut.shape[:2]
        x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
        dx, dy = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
        tight = cv2.resize(astronaut[int(y0 + dy):int(y1 - dy), int(x0 + dx):int(x1 - dx)], (64, 64),
                           interpolation=cv2.INTER_AREA)
        assert lm.detect_faces(tight) == []  # the detector alone misses it
        runs = lm.detector_runs
        faces = lm.detect(tight, 0.0)
        assert len(faces) == 1 and lm.detector_runs == runs + 2


def test_a_newcomer_is_searched_for_at_once_when_something_moves_beside_the_tracked_face(
        model_path: Path, astronaut: np.ndarray) -> None:
    face = cv2.resize(astronaut[0:300, 60:360], (320, 320))
    alone = np.zeros((320, 640, 3), np.uint8)
    alone[:, :320] = face
    both = alone.copy()
    both[:, 320:] = face[:, ::-1]
    with LiteRTLandmarker(model_path, max_faces=4, search_ms=60_000) as lm:
        for i in range(5):  # one face, still: after the first detection nothing is searched for
            assert len(lm.detect(alone, i * 33.0)) == 1
        runs = lm.detector_runs
        assert len(lm.detect(alone, 200.0)) == 1 and lm.detector_runs == runs
        assert len(lm.detect(both, 233.0)) == 2  # someone steps in beside: found on that very frame
        assert lm.motion_searches == 1


def test_a_drifting_picture_is_no_newcomer(model_path: Path, model_cache: Path) -> None:
    """The demo's portrait drifts as a whole, as a camera on a soft mount would: the lines its
    edges draw in the motion thumbnail are no newcomer, so the detector keeps to its schedule
    (it ran on nearly every scored frame when any two changed pixels counted)."""
    from core.sources.demo import DemoSource

    demo = DemoSource(size=(640, 480), fps=30, pace=False, cache=model_cache)
    frames = [demo.read().rgb for _ in range(120)]
    with LiteRTLandmarker(model_path, max_faces=4, search_ms=60_000) as lm:
        for i, frame in enumerate(frames[::2]):  # scored at 15 a second, as the scheduler does
            assert len(lm.detect(frame, i * 66.7)) == 1
        assert lm.motion_searches == 0 and lm.detector_runs == 1
