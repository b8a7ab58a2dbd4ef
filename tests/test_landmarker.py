"""The real MediaPipe Face Landmarker on real images, and its replay stand-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import FrameError, ModelError
from core.landmarker import MediapipeLandmarker, RecordingLandmarker, ReplayLandmarker


def test_astronaut_gives_one_face_with_478_landmarks_and_52_blendshapes(model_path: Path, astronaut: np.ndarray) -> None:
    with MediapipeLandmarker(model_path, still=True) as lm:
        faces = lm.detect(astronaut, 0.0)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    assert len(face.blendshapes) == 52 and "mouthSmileLeft" in face.blendshapes
    x0, y0, x1, y1 = face.box
    assert 0.25 < x0 < x1 < 0.65 and 0.05 < y0 < y1 < 0.45  # the face sits upper-middle in the portrait
    assert face.image_size == (512, 512)
    assert face.transform is not None and face.transform.shape == (4, 4)


def test_a_cat_is_not_a_face(model_path: Path, chelsea: np.ndarray) -> None:
    with MediapipeLandmarker(model_path, still=True) as lm:
        assert lm.detect(chelsea, 0.0) == []


def test_video_mode_accepts_repeated_timestamps(model_path: Path, astronaut: np.ndarray) -> None:
    with MediapipeLandmarker(model_path) as lm:
        first = lm.detect(astronaut, 100.0)
        again = lm.detect(astronaut, 100.0)  # same ms: nudged forward, not an error
        older = lm.detect(astronaut, 50.0)
    assert len(first) == len(again) == len(older) == 1


@pytest.mark.parametrize("frame, words", [
    (np.zeros((480, 640), np.uint8), "shape"),
    (np.zeros((480, 640, 4), np.uint8), "shape"),
    (np.zeros((480, 640, 3), np.float32), "dtype"),
    (np.zeros((8, 8, 3), np.uint8), "out of range"),
    ("not an image", "not an image array"),
])
def test_bad_frames_raise_frame_error(model_path: Path, frame: object, words: str) -> None:
    with MediapipeLandmarker(model_path) as lm:
        with pytest.raises(FrameError, match=words):
            lm.detect(frame, 0.0)  # type: ignore[arg-type]


def test_a_corrupt_model_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "face_landmarker.task"
    bad.write_bytes(b"PK\x03\x04 definitely not a task bundle")
    with pytest.raises(ModelError, match="model fetch"):
        MediapipeLandmarker(bad)


def test_recorded_observations_replay_identically(model_path: Path, astronaut: np.ndarray, tmp_path: Path) -> None:
    recorder = RecordingLandmarker(MediapipeLandmarker(model_path))
    live = recorder.detect(astronaut, 0.0)
    recorder.close()
    recorder.save(tmp_path / "replay.jsonl")
    replay = ReplayLandmarker.from_file(tmp_path / "replay.jsonl")
    again = replay.detect(astronaut, 33.0)
    assert len(again) == 1 and again[0].t_ms == 33.0
    assert np.allclose(again[0].landmarks, live[0].landmarks, atol=1e-4)
    assert again[0].blendshapes["mouthSmileLeft"] == pytest.approx(live[0].blendshapes["mouthSmileLeft"], abs=1e-4)
    assert live[0].mouth is not None and np.array_equal(again[0].mouth, live[0].mouth)  # the pixels the scorer reads


def test_a_recording_without_mouth_patches_still_replays(model_path: Path, astronaut: np.ndarray, tmp_path: Path) -> None:
    import json

    recorder = RecordingLandmarker(MediapipeLandmarker(model_path, still=True))
    recorder.detect(astronaut, 0.0)
    recorder.close()
    recorder.save(tmp_path / "replay.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text().splitlines()]
    for faces in rows:
        for face in faces:
            del face["mouth"]  # as recorded before observations carried the patch
    (tmp_path / "old.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = ReplayLandmarker.from_file(tmp_path / "old.jsonl").detect(astronaut, 0.0)
    assert len(again) == 1 and again[0].mouth is None
