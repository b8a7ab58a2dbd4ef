"""The contagion stimuli: the drawn faces read to our own scorer as they should, and a venue's
clip folder is checked with sentences that say what to fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from core.landmarker import MediapipeLandmarker
from core.scoring import score_face
from kiosk.stimulus import DUCHENNE, MOUTH_ONLY, DrawnFace, draw_face, load_clips
from tests.conftest import write_video


@pytest.mark.parametrize("size", [360, 720])
def test_the_duchenne_face_reads_eye_engaged_and_the_mouth_only_one_does_not(model_path: Path, size: int) -> None:
    with MediapipeLandmarker(model_path, still=True) as lm:
        faces = {k: lm.detect(draw_face(size, 1.0, e), 0.0) for k, e in ((DUCHENNE, 1.0), (MOUTH_ONLY, 0.0))}
        neutral = lm.detect(draw_face(size, 0.0, 0.0), 0.0)
    assert all(faces.values()) and neutral, "the landmarker finds the drawn faces"
    d, m = (score_face(faces[k][0]) for k in (DUCHENNE, MOUTH_ONLY))
    mouth = {k: np.mean([faces[k][0].blendshapes[f"mouthSmile{s}"] for s in ("Left", "Right")]) for k in faces}
    assert d.eye_engagement >= 50 > 10 > m.eye_engagement, (d.eye_engagement, m.eye_engagement)
    assert abs(mouth[DUCHENNE] - mouth[MOUTH_ONLY]) < 0.02, "the same mouth"
    assert d.score >= 50 and m.score >= 50 and abs(d.score - m.score) < 10
    assert score_face(neutral[0]).score < 50


def test_the_drawn_face_smiles_after_its_lead_with_the_same_mouth() -> None:
    duch, mouth = DrawnFace(DUCHENNE, size=200), DrawnFace(MOUTH_ONLY, size=200)
    assert not duch.frame(650)[1] and duch.frame(720)[1], "the first smiling frame is just after the lead"
    assert np.array_equal(duch.frame(100)[0], mouth.frame(100)[0]), "both start from the same neutral face"
    assert not np.array_equal(duch.frame(1200)[0], mouth.frame(1200)[0])
    assert duch.amount(1100) == 1.0 and 0 < duch.amount(900) < 1, "a 0.4 s onset"


def clip(folder: Path, name: str, n: int = 20) -> None:
    frames = [np.full((120, 160, 3), 20 * (i % 10), np.uint8) for i in range(n)]
    write_video(folder / name, frames, 25.0)


def test_a_venue_folder_of_clips_loads(tmp_path: Path) -> None:
    clip(tmp_path, "a.avi")
    clip(tmp_path, "b.avi")
    (tmp_path / "labels.csv").write_text("file,kind,onset_frame\na.avi,duchenne,8\nb.avi,mouth-only,5\n")
    a, b = load_clips(tmp_path)
    assert (a.kind, a.onset_frame, len(a.frames), a.fps) == ("duchenne", 8, 20, 25.0)
    assert not a.frame(7 * 40 + 1)[1] and a.frame(8 * 40 + 1)[1]


@pytest.mark.parametrize("labels, message", [
    (None, "no labels.csv"),
    ("name,kind\n", "first line must be 'file,kind,onset_frame'"),
    ("file,kind,onset_frame\na.avi,duchenne\n", "line 2: expected 3 fields"),
    ("file,kind,onset_frame\na.avi,,4\n", "line 2: the kind is empty"),
    ("file,kind,onset_frame\na.avi,duchenne,four\n", "onset_frame 'four' is not a whole number"),
    ("file,kind,onset_frame\nmissing.avi,duchenne,4\n", "'missing.avi' is not a file"),
    ("file,kind,onset_frame\na.avi,duchenne,40\n", "before the end of 'a.avi' \\(20 frames\\)"),
    ("file,kind,onset_frame\nnotes.txt,duchenne,4\n", "no video frames"),
    ("file,kind,onset_frame\n", "lists no clips"),
])
def test_a_bad_venue_folder_is_a_sentence(tmp_path: Path, labels: str | None, message: str) -> None:
    clip(tmp_path, "a.avi")
    (tmp_path / "notes.txt").write_text("not a video")
    if labels is not None:
        (tmp_path / "labels.csv").write_text(labels)
    with pytest.raises(ConfigError, match=message):
        load_clips(tmp_path)


def test_a_missing_folder_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        load_clips(tmp_path / "nowhere")
