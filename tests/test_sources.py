"""Frame sources: recorded video, still images and the demo stand in for the camera."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import SourceError
from core.sources import DemoSource, ImageFilesSource, VideoFileSource, open_source
from tests.conftest import write_video


def frames_of(source, limit: int = 10_000) -> list:
    out = []
    while len(out) < limit and (frame := source.read()) is not None:
        out.append(frame)
    return out


def test_video_file_plays_every_frame_with_its_own_timeline(face_video: Path) -> None:
    with VideoFileSource(face_video, pace=False) as source:
        frames = frames_of(source)
    assert len(frames) == 90
    assert frames[0].rgb.shape == (480, 640, 3) and frames[0].rgb.dtype == np.uint8
    assert [f.index for f in frames[:3]] == [1, 2, 3]
    assert frames[30].t_ms == pytest.approx(1000.0, abs=0.1)


def test_video_is_downscaled_to_the_inference_size(face_video: Path) -> None:
    with VideoFileSource(face_video, size=(320, 240), pace=False) as source:
        assert source.read().rgb.shape == (240, 320, 3)


def test_paced_video_takes_real_time(face_video: Path) -> None:
    with VideoFileSource(face_video, pace=True) as source:
        start = time.monotonic()
        frames_of(source, limit=16)
        assert time.monotonic() - start >= 0.45  # 15 frame periods at 30 fps


def test_looping_video_keeps_time_increasing(face_video: Path) -> None:
    with VideoFileSource(face_video, pace=False, loop=True) as source:
        frames = frames_of(source, limit=200)
    assert len(frames) == 200
    assert all(b.t_ms > a.t_ms for a, b in zip(frames, frames[1:]))


def test_missing_and_undecodable_videos_say_so(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="cannot be decoded"):
        VideoFileSource(junk)


def test_image_list_skips_unreadable_files(tmp_path: Path, astronaut: np.ndarray) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), astronaut)
    (tmp_path / "b.png").write_bytes(b"\x89PNG truncated")
    cv2.imwrite(str(tmp_path / "c.jpg"), astronaut)
    source = ImageFilesSource(str(tmp_path / "*"), pace=False)
    frames = frames_of(source)
    assert len(frames) == 2 and source.skipped == 1
    assert frames[0].rgb.shape == (480, 480, 3)  # 512x512 fitted inside 640x480


def test_no_images_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no images match"):
        ImageFilesSource(str(tmp_path / "*.png"))


def test_demo_moves(model_cache: Path) -> None:
    demo = DemoSource(size=(320, 240), pace=False, cache=model_cache)
    a, b = demo.read(), [demo.read() for _ in range(20)][-1]
    assert a.rgb.shape == (240, 320, 3)
    assert np.abs(a.rgb.astype(int) - b.rgb.astype(int)).mean() > 2.0


def test_cameras_absent_here_are_explained() -> None:
    with pytest.raises(SourceError, match="picamera2"):
        open_source("picamera2")
    with pytest.raises(SourceError, match="no webcam at /dev/video9"):
        open_source("webcam:9")
    with pytest.raises(SourceError, match="unknown source"):
        open_source("kinect")


def test_auto_falls_back_to_the_demo_and_logs_why(model_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    if Path("/dev/video0").exists():
        pytest.skip("a webcam is attached; auto would use it")
    with open_source("auto", cache=model_cache, pace=False) as source:
        assert source.name == "demo"
    text = caplog.text
    assert "picamera2 unavailable" in text and "webcam:0 unavailable" in text and "built-in demo" in text


def test_auto_stays_with_the_camera_it_found(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera that drops out is waited for (calm screen, retries), never swapped for the demo."""
    import core.sources as sources

    demo = DemoSource(size=(160, 120), pace=False, cache=model_cache)
    monkeypatch.setattr(sources, "_first_camera", lambda *a: (demo, "webcam:7"))
    opener = sources.SourceOpener("auto", cache=model_cache)
    assert opener() is demo and opener.camera == "webcam:7"
    with pytest.raises(SourceError, match="no webcam at /dev/video7"):
        opener()  # the camera is gone: an error for the capture thread to retry, not the demo


def test_the_demo_steps_aside_when_a_camera_is_plugged_in(model_cache: Path) -> None:
    import core.sources as sources

    states = iter([(0, ()), (0, ()), (0, ("/dev/video0",))])
    watch = sources.CameraWatch(DemoSource(size=(160, 120), pace=False, cache=model_cache), every_s=0.0,
                                snapshot=lambda: next(states))
    assert watch.read() is not None  # nothing changed yet
    with pytest.raises(SourceError, match="camera was connected"):
        watch.read()


def test_auto_without_any_camera_runs_the_watched_demo(model_cache: Path) -> None:
    import core.sources as sources

    if Path("/dev/video0").exists():
        pytest.skip("a webcam is attached; auto would use it")
    opener = sources.SourceOpener("auto", cache=model_cache, pace=False)
    source = opener()
    assert isinstance(source, sources.CameraWatch) and source.name == "demo" and opener.camera is None


def test_written_video_round_trips(tmp_path: Path) -> None:
    frames = [np.full((120, 160, 3), v, np.uint8) for v in (0, 128, 255)]
    path = write_video(tmp_path / "flat.avi", frames, fps=10)
    with VideoFileSource(path, pace=False) as source:
        got = frames_of(source)
    assert [round(float(f.rgb.mean())) for f in got] == pytest.approx([0, 128, 255], abs=3)
    assert got[1].t_ms == pytest.approx(100.0)


def test_a_looping_image_list_survives_an_unreadable_file(tmp_path: Path, astronaut: np.ndarray) -> None:
    import cv2

    for name in ("a.png", "c.png", "d.png"):
        cv2.imwrite(str(tmp_path / name), astronaut)
    (tmp_path / "b.png").write_bytes(b"broken")
    source = ImageFilesSource(str(tmp_path / "*.png"), pace=False, loop=True)
    assert len(frames_of(source, limit=40)) == 40


def test_a_looping_list_of_only_broken_files_ends(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"broken")
    assert frames_of(ImageFilesSource(str(tmp_path / "*.png"), pace=False, loop=True)) == []
