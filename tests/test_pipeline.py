"""Capture and inference threads: newest frame wins, failures are survived, nothing queues."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.faults import FaultyLandmarker, FaultySource, FlakyOpener
from core.landmarker import ReplayLandmarker
from core.pipeline import CaptureThread, InferenceWorker
from core.sources import DemoSource, VideoFileSource
from core.types import Frame


def test_capture_survives_an_absent_camera_then_an_unplug(model_cache: Path) -> None:
    def camera() -> FaultySource:  # the first camera to appear gets unplugged at its 5th frame
        script = {} if opener.opened else {5: "unplug"}
        return FaultySource(DemoSource(size=(160, 120), pace=True, cache=model_cache), script)

    opener = FlakyOpener(camera, absent=2)
    capture = CaptureThread(opener, backoff_s=(0.05, 0.2)).start()
    try:
        seen, states = [], set()
        deadline = time.monotonic() + 10
        while len(seen) < 15 and time.monotonic() < deadline:
            states.add(capture.status().state)
            got = capture.next_frame(seen[-1] if seen else 0, timeout_s=0.5)
            if got:
                seen.append(got[0].index)
        status = capture.status()
    finally:
        capture.stop()
    assert len(seen) == 15 and seen == sorted(seen), "frame numbers keep increasing across reconnects"
    assert opener.attempts == 4  # two absent, one that got unplugged, one that stays
    assert status.reconnects == 1 and status.state == "running"
    assert "unavailable" in states


def test_garbage_frames_are_skipped_and_counted(face_video: Path) -> None:
    script = {2: "wrong_size", 3: "grey", 4: "wrong_dtype", 5: "rgba"}
    capture = CaptureThread(lambda: FaultySource(VideoFileSource(face_video, pace=False), script)).start()
    got, index = [], 0
    while (item := capture.next_frame(index, timeout_s=2.0)) is not None:
        index = item[0].index
        got.append(item[0])
    capture.stop()
    assert len(got) == 90 - 4
    assert capture.status().bad_frames == 4 and capture.status().state == "ended"


def test_media_sources_lose_no_frame_to_a_slow_reader(face_video: Path) -> None:
    capture = CaptureThread(lambda: VideoFileSource(face_video, pace=False)).start()
    indices, index = [], 0
    while (item := capture.next_frame(index, timeout_s=2.0)) is not None:
        index = item[0].index
        indices.append(index)
        time.sleep(0.002)
    capture.stop()
    assert indices == list(range(1, 91))


def test_worker_refuses_while_busy_and_survives_a_failing_landmarker(astronaut: np.ndarray) -> None:
    class Slow(ReplayLandmarker):
        def detect(self, rgb, t_ms):
            time.sleep(0.05)
            return super().detect(rgb, t_ms)

    worker = InferenceWorker(FaultyLandmarker(Slow([[]]), calls=(2,)))
    frame = Frame(rgb=astronaut, t_ms=0.0, index=1)
    try:
        assert worker.submit(frame, 0.0)
        assert not worker.submit(frame, 0.0), "a busy worker must refuse, not queue"
        assert worker.wait_idle(2.0)
        first = worker.poll()
        assert first is not None and first.error == "" and first.infer_ms >= 40
        assert worker.submit(frame, 0.0) and worker.wait_idle(2.0)
        second = worker.poll()
        assert second is not None and "injected" in second.error and second.faces == []
        assert worker.errors == worker.runner.errors == 1
        assert worker.submit(frame, 0.0) and worker.wait_idle(2.0)
        assert worker.poll().error == ""
    finally:
        worker.close()


def test_a_still_comes_back_as_a_future_and_a_cancelled_one_is_dropped(model_cache: Path) -> None:
    capture = CaptureThread(lambda: DemoSource(size=(160, 120), pace=True, cache=model_cache)).start()
    index = 0

    def take_frames(seconds: float) -> None:  # the display loop takes frames meanwhile
        nonlocal index
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if (item := capture.next_frame(index, timeout_s=0.1)) is not None:
                index = item[0].index

    try:
        given_up = capture.request_still()
        assert given_up.cancel()  # the booth gave up on it before the capture thread got to it
        replaced = capture.request_still()
        wanted = capture.request_still()  # a newer request replaces one not yet served
        deadline = time.monotonic() + 3
        while not wanted.done() and time.monotonic() < deadline:
            take_frames(0.05)
        assert given_up.cancelled() and replaced.cancelled()
        image = wanted.result(timeout=0)
        assert image is not None and image.shape == (240, 320, 3), "the demo renders stills at twice its size"
        status = capture.status()
        assert (status.source_name, status.live, status.realtime) == ("demo", False, True)
        assert status.heartbeat_ms > 0 and capture.alive(status.heartbeat_ms)
    finally:
        capture.stop()
    after = capture.request_still()
    assert after.done() and after.result() is None, "a stopped capture answers at once: use the preview"
