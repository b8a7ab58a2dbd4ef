"""Timing truth: a recorded real face that smiles at a known frame, played as the camera while
the drawn stimulus is shown; the measured latencies match the truth within one camera frame."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.landmarker import MediapipeLandmarker
from core.sources import VideoFileSource
from kiosk.app import App
from kiosk.display import RecordingDisplay
from kiosk.experiment import Trial
from kiosk.experiment_stats import ExperimentStats
from kiosk.modes.contagion import ContagionMode
from tests.conftest import unsmile, write_video

SMILE_AT_S = 3.6  # the visitor's smile starts here in the recording


@pytest.fixture(scope="module")
def faces(astronaut: np.ndarray, model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    smile = cv2.resize(astronaut, (512, 512))
    with MediapipeLandmarker(model_path, still=True) as lm:
        return unsmile(smile, lm), smile


@pytest.mark.parametrize("fps", [30, 15])
def test_latencies_are_within_one_camera_frame_of_the_truth(faces, model_path: Path, tmp_path: Path, fps: int) -> None:
    neutral, smile = faces
    n_smile = round(SMILE_AT_S * fps)
    frames = [neutral if i < n_smile else smile for i in range(round(7.5 * fps))]
    video = write_video(tmp_path / f"smile-at-{n_smile}.avi", frames, fps)
    truth_ms = n_smile * 1000.0 / fps  # the capture time of the first smiling frame
    state = tmp_path / "state"
    mode = ContagionMode(Trial(trials_per_visit=1), ExperimentStats(state))
    app = App(open_source=lambda: VideoFileSource(video, pace=False), landmarker=MediapipeLandmarker(model_path),
              display=RecordingDisplay(screen=(640, 360)), mode=mode)
    assert app.run() == 0 and app.stats.loop_errors == 0
    (out,) = mode.outcomes
    frame_ms = 1000.0 / fps
    due = mode.stimulus_due_ms
    assert due is not None and due <= out.onset_ms < due + frame_ms, "onset = the flip of the first smiling frame"
    assert truth_ms - 3000 < out.onset_ms < truth_ms, "the test's stimulus came before the recorded smile"
    assert out.baseline < 40, "a neutral baseline"
    for measured in (out.response_ms, out.crossed_ms):
        assert measured is not None
        assert abs(measured - (truth_ms - due)) <= frame_ms, (measured, truth_ms - due)
        assert out.onset_ms + measured == pytest.approx(truth_ms), "timed from the capture of the first smiling frame"
    window = [i for i in range(len(frames)) if out.onset_ms <= i * frame_ms <= out.onset_ms + 3000]
    assert out.frames == len(window), "every camera frame in the window was scored"
    print(f"{fps} fps: onset {out.onset_ms:.1f} ms (due {due:.1f}), truth latency {truth_ms - due:.1f} ms, "
          f"measured {out.response_ms:.1f} / {out.crossed_ms:.1f} ms")
    mode.stats.flush()
    assert (state / "contagion-stats.json").is_file()
