"""The faults a kiosk meets, one at a time, injected through the shipped fault classes
(core.faults) into the real app loop: what the visitor sees, what the log says, what recovers.

Covered elsewhere and not repeated here: no camera at start (test_app, test_pipeline), garbage
frames in the capture thread (test_pipeline), missing and truncated model, unknown config key
(test_cli), config type mistakes (test_config), bad input fuzzing (test_fuzz).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core import assets
from core.config import ConfigError, SECTIONS, load_config
from core.errors import SourceError
from core.faults import FaultyLandmarker, FaultySource, FlakyOpener
from core.landmarker import MediapipeLandmarker, ReplayLandmarker
from core.pipeline import CaptureThread, InferenceWorker
from core.sources import DemoSource, VideoFileSource
from core.types import Frame
from kiosk.app import App
from kiosk.display import RecordingDisplay
from kiosk.states import KioskStates
from kiosk.view import Screen

REPO = Path(__file__).resolve().parents[1]
MAIN_THREAD = threading.current_thread() is threading.main_thread()


class TimedNotifier:
    """Records every sd_notify message with its time.monotonic()."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []

    def ready(self) -> None:
        self.sent.append((time.monotonic(), "READY=1"))

    def watchdog(self) -> None:
        self.sent.append((time.monotonic(), "WATCHDOG=1"))

    def status(self, text: str) -> None:
        self.sent.append((time.monotonic(), f"STATUS={text}"))

    def stopping(self) -> None:
        self.sent.append((time.monotonic(), "STOPPING=1"))

    def pings(self) -> list[float]:
        return [t for t, m in self.sent if m == "WATCHDOG=1"]


class ScreenLog(KioskStates):
    """The real state machine, recording (time.monotonic(), screen) for every step, and calling
    `until(log)` so a test can stop the app once it has seen what it came for."""

    def __init__(self, until=None) -> None:
        super().__init__()
        self.seen: list[tuple[float, Screen]] = []
        self.until = until

    def step(self, now_ms, **kw):
        screen = KioskStates.step(self, now_ms, **kw)
        self.seen.append((time.monotonic(), screen))
        if self.until is not None:
            self.until(self)
        return screen


def run_app(app: App, states: ScreenLog, limit_s: float) -> float:
    """Run in this thread with a safety stop; the wall time taken."""
    app.states = states
    guard = threading.Timer(limit_s, app.stop)
    guard.start()
    start = time.monotonic()
    try:
        app.run()
    finally:
        guard.cancel()
    return time.monotonic() - start


def camera(model_cache: Path, script: dict[int, str]) -> FaultySource:
    """A small live 'camera' (the demo at 30 fps) with scripted faults."""
    return FaultySource(DemoSource(size=(160, 120), pace=True, cache=model_cache), script, live=True)


# ---- camera lost mid-run ------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["unplug", "none", "crash"])
def test_camera_lost_mid_run_shows_unavailable_within_two_seconds_and_reconnects(fault: str,
                                                                                  model_cache: Path) -> None:
    """USB unplug (SourceError), a read returning nothing, a driver raising something else: the
    calm screen within 2 s, a reconnect by itself with the kiosk's own back-off, never an exit."""
    first: list[FaultySource] = []

    def open_camera() -> FaultySource:
        source = camera(model_cache, {} if first else {20: fault})
        first.append(source)
        return source

    def until(log: ScreenLog) -> None:  # stop once the mirror has been back for 10 frames
        lost = [i for i, (_, s) in enumerate(log.seen) if s is Screen.UNAVAILABLE]
        if lost and sum(s is not Screen.UNAVAILABLE for _, s in log.seen[lost[-1]:]) >= 10:
            app.stop()

    opener = FlakyOpener(open_camera)
    notifier = TimedNotifier()
    app = App(open_source=opener, landmarker=ReplayLandmarker([[]]), display=RecordingDisplay(screen=(160, 120)),
              notifier=notifier)
    states = ScreenLog(until)
    run_app(app, states, limit_s=15)

    fired_at = first[0].fired[0][2]
    unavailable = [t for t, s in states.seen if s is Screen.UNAVAILABLE]
    assert unavailable, "the calm screen never came up"
    assert unavailable[0] - fired_at < 2.0
    back = [t for t, s in states.seen if t > unavailable[-1]]
    assert len(back) >= 10, "the mirror did not come back by itself"
    assert opener.attempts == 2 and first[0].closed, "the lost camera is closed, a new one opened"
    status = app.capture.status()
    assert status.reconnects == 1 and status.state == "running" and app.stats.loop_errors == 0
    pings = notifier.pings()  # retrying on schedule: the watchdog is fed throughout
    assert max(b - a for a, b in zip(pings, pings[1:])) < 1.0
    assert ("STATUS=Camera unavailable, reconnecting" in [m for _, m in notifier.sent])


def test_a_camera_that_opens_but_never_reads_is_retried_with_back_off(model_cache: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Was a tight loop: reopened (and logged) hundreds of times a second."""
    opener = FlakyOpener(lambda: camera(model_cache, {1: "unplug"}))
    caplog.set_level(logging.WARNING, logger="core.pipeline")
    capture = CaptureThread(opener, backoff_s=(0.05, 0.4)).start()
    time.sleep(1.5)
    capture.stop()
    # 0.05 + 0.1 + 0.2 + 0.4 + 0.4 + 0.4 s of back-off fit in 1.5 s: about six attempts
    assert 4 <= opener.attempts <= 8
    assert len([r for r in caplog.records if "reopening" in r.getMessage()]) == opener.attempts
    assert capture.status().state == "unavailable"


def test_an_opener_failing_with_a_foreign_error_is_retried(model_cache: Path) -> None:
    """A driver binding raising something other than SourceError at open is retried like a
    missing camera: were it to end the capture thread, the mirror would freeze until the
    watchdog fired."""
    calls = []

    def flaky() -> FaultySource:
        calls.append(1)
        if len(calls) <= 2:
            raise OSError(19, "No such device")
        return camera(model_cache, {})

    capture = CaptureThread(flaky, backoff_s=(0.02, 0.05)).start()
    try:
        assert capture.next_frame(0, timeout_s=5.0) is not None
        assert capture.alive(time.monotonic() * 1000.0)
    finally:
        capture.stop()
    assert len(calls) == 3


# ---- stalled camera driver: the watchdog must starve ----------------------------------------

def test_a_hung_camera_driver_starves_the_watchdog(model_cache: Path) -> None:
    """read() blocks for ever (a wedged driver): the calm screen after `stale_s`, and the
    watchdog stops being fed once the capture thread has made no progress for its limit."""
    source = camera(model_cache, {15: "hang"})
    notifier = TimedNotifier()
    app = App(open_source=lambda: source, landmarker=ReplayLandmarker([[]]), display=RecordingDisplay(screen=(160, 120)),
              notifier=notifier, stale_s=0.3, backoff_s=(0.05, 0.2))
    limit_s = max(0.2, 0.3) + 2.0  # CaptureThread.alive(): the longest back-off or staleness, plus 2 s

    def until(log: ScreenLog) -> None:
        if source.hanging.is_set() and time.monotonic() - source.fired[0][2] > limit_s + 1.0:
            app.stop()

    states = ScreenLog(until)
    try:
        run_app(app, states, limit_s=15)
        alive_after = app.capture.alive(time.monotonic() * 1000.0)
    finally:
        source.release()
    hung_at = source.fired[0][2]
    unavailable = [t for t, s in states.seen if s is Screen.UNAVAILABLE]
    assert unavailable and unavailable[0] - hung_at < 0.3 + 0.5
    pings = notifier.pings()
    assert any(t > unavailable[0] for t in pings), "the watchdog is still fed while the camera might recover"
    last = max(pings)
    assert limit_s - 0.5 < last - hung_at < limit_s + 0.5, "the watchdog must stop once the driver is stuck"
    assert states.seen[-1][0] - last > 0.5, "the loop kept running without feeding the watchdog"
    assert not alive_after


# ---- landmarker fails on every frame ----------------------------------------------------------

def test_a_landmarker_failing_on_every_frame_is_counted_and_logged_once_a_minute(
        face_video: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    landmarker = FaultyLandmarker(ReplayLandmarker([[]]), every=1)
    app = App(open_source=lambda: VideoFileSource(face_video, pace=False), landmarker=landmarker,
              display=RecordingDisplay(screen=(640, 480)))
    states = ScreenLog()
    run_app(app, states, limit_s=30)
    assert app.stats.displayed == 90, "every frame is still shown"
    assert app.stats.landmarker_errors == app.stats.readings == landmarker.count >= 10
    assert app.stats.loop_errors == 0 and Screen.FAILSAFE not in {s for _, s in states.seen}
    failures = [r for r in caplog.records if "landmarker failed" in r.getMessage()]
    assert len(failures) == 1 and "injected" in failures[0].getMessage()
    assert app.inference.runner.throttle.suppressed == landmarker.count - 1


def test_the_landmarker_log_lets_one_line_through_per_minute(astronaut, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.pipeline")
    worker = InferenceWorker(FaultyLandmarker(ReplayLandmarker([[]]), every=1))
    frame = Frame(rgb=astronaut, t_ms=0.0, index=1)
    try:
        for minute in range(3):
            for _ in range(20):
                assert worker.submit(frame, 0.0) and worker.wait_idle(2.0)
                assert worker.poll().error
            worker.runner.throttle._last -= 60.0  # a minute passes
    finally:
        worker.close()
    assert worker.errors == 60
    assert len([r for r in caplog.records if "landmarker failed" in r.getMessage()]) == 3


# ---- garbage frames through the whole loop, with the real model --------------------------------

def test_every_kind_of_garbage_frame_leaves_the_mirror_running(face_video: Path, model_path: Path) -> None:
    script = {5: "wrong_size", 10: "wrong_dtype", 15: "grey", 20: "rgba", 25: "black", 30: "noise"}
    source_box: list[FaultySource] = []

    def open_source() -> FaultySource:
        source_box.append(FaultySource(VideoFileSource(face_video, pace=False), script))
        return source_box[-1]

    app = App(open_source=open_source, landmarker=MediapipeLandmarker(model_path),
              display=RecordingDisplay(screen=(640, 480)))
    run_app(app, ScreenLog(), limit_s=60)
    assert app.capture.status().bad_frames == 4  # black and noise are valid pictures with no face
    assert app.stats.displayed == 90 - 4 and app.stats.loop_errors == app.stats.landmarker_errors == 0
    assert len(source_box) == 1 and source_box[0].closed
    assert app.stats.faces > 0


def test_unknown_faults_are_refused_by_name(model_cache: Path) -> None:
    with pytest.raises(ValueError, match="unknown faults.*'unplugg'"):
        camera(model_cache, {3: "unplugg"})


# ---- SIGTERM / SIGINT -------------------------------------------------------------------------

@pytest.mark.skipif(not MAIN_THREAD, reason="signals need the main thread")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly_releasing_camera_and_model(signum: int, face_video: Path, model_path: Path) -> None:
    source = FaultySource(VideoFileSource(face_video, pace=True, loop=True), {}, live=True)
    landmarker = FaultyLandmarker(MediapipeLandmarker(model_path))
    notifier = TimedNotifier()
    app = App(open_source=lambda: source, landmarker=landmarker, display=RecordingDisplay(screen=(640, 480)),
              notifier=notifier)
    threading.Timer(0.7, os.kill, (os.getpid(), signum)).start()
    took = run_app(app, ScreenLog(), limit_s=10)
    assert took < 0.7 + 2.0
    assert source.closed, "the camera is released"
    assert landmarker.inner._task is None, "the model is closed"
    assert not app.capture._thread.is_alive() and not app.inference._thread.is_alive()
    assert notifier.sent[-1][1] == "STOPPING=1"
    assert signal.getsignal(signum) is not app.stop


@pytest.mark.skipif(not MAIN_THREAD, reason="signals need the main thread")
def test_sigterm_with_a_hung_camera_still_stops_within_two_seconds(model_cache: Path) -> None:
    source = camera(model_cache, {5: "hang"})
    app = App(open_source=lambda: source, landmarker=ReplayLandmarker([[]]), display=RecordingDisplay(screen=(160, 120)))
    try:
        def until(log: ScreenLog) -> None:
            if source.hanging.is_set() and not until.sent:
                until.sent = time.monotonic()
                os.kill(os.getpid(), signal.SIGTERM)
        until.sent = 0.0
        run_app(app, ScreenLog(until), limit_s=10)
        took = time.monotonic() - until.sent
    finally:
        source.release()
    assert until.sent and took < 2.0


# ---- config: out of range, unreadable ----------------------------------------------------------

def _ranged_keys() -> list[tuple[str, str, float, float | None, type]]:
    from dataclasses import fields
    out = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            if f.metadata.get("lo") is not None:
                out.append((section, f.name, f.metadata["lo"], f.metadata.get("hi"), {"int": int}.get(str(f.type), float)))
    return out


@pytest.mark.parametrize("section, key, lo, hi, kind", _ranged_keys(), ids=lambda v: str(v))
def test_every_range_is_enforced_naming_file_key_and_range(tmp_path: Path, section: str, key: str, lo: float,
                                                           hi: float | None, kind: type) -> None:
    step = 1 if kind is int else 0.01
    bad = [lo - step] + ([hi + step] if hi is not None else [])
    for value in bad:
        path = tmp_path / "config.toml"
        path.write_text(f"[{section}]\n{key} = {kind(value)!r}\n")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        message = str(info.value)
        assert str(path) in message and f"{section}.{key}" in message
        assert f"{lo:g}" in message and (hi is None or f"{hi:g}" in message)


@pytest.mark.parametrize("text", ["[pipeline]\nscore_hz = nan\n", "[pipeline]\nmax_cpu = inf\n",
                                  "[pipeline]\nscore_hz = " + "9" * 400 + "\n"])
def test_non_finite_and_enormous_numbers_are_rejected(tmp_path: Path, text: str) -> None:
    """An integer too large for a float raised OverflowError (a crash, not a sentence)."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"pipeline\.(score_hz|max_cpu) = .{0,60} is not allowed; it must be a number"):
        load_config(path)


@pytest.mark.parametrize("make", ["directory", "latin1", "binary"])
def test_unreadable_config_files_are_named(tmp_path: Path, make: str) -> None:
    path = tmp_path / "config.toml"
    if make == "directory":
        path.mkdir()
    elif make == "latin1":
        path.write_bytes("[run]\nmode = 'caf\xe9'\n".encode("latin-1"))
    else:
        path.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and ("cannot be read" in str(info.value) or "TOML" in str(info.value))


# ---- model with the wrong checksum: one sentence, exit code != 0 -------------------------------

@pytest.mark.parametrize("command", [["run", "--display", "headless", "--frames", "1"], ["score"], ["soak", "--frames", "1"]])
def test_altered_model_is_refused_with_the_fixing_command(command: list[str], tmp_path: Path,
                                                         model_path: Path, model_cache: Path) -> None:
    altered = bytearray(model_path.read_bytes())
    altered[len(altered) // 2] ^= 0xFF  # same size, one byte flipped
    bad = tmp_path / assets.MODEL.filename
    bad.write_bytes(bytes(altered))
    args = command + ["--model", str(bad)] + ([str(model_cache / "astronaut.png")] if command == ["score"] else [])
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    env.pop("SMILE_MIRROR_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert "SHA-256" in done.stderr and "smile-mirror model fetch" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_frame_times_keep_increasing_across_a_reopened_media_source(model_cache: Path) -> None:
    """A reopened file or demo restarts its clock at 0; the scheduler, the state machine and
    MediaPipe all need time to go forward (found by `soak --faults`: scoring stopped)."""
    capture = CaptureThread(lambda: FaultySource(DemoSource(size=(160, 120), pace=False, cache=model_cache),
                                                 {10: "unplug"}), backoff_s=(0.01, 0.05)).start()
    times, index = [], 0
    try:
        while len(times) < 30 and (got := capture.next_frame(index, timeout_s=2.0)) is not None:
            index = got[0].index
            times.append(got[0].t_ms)
    finally:
        capture.stop()
    assert len(times) == 30 and capture.status().reconnects >= 2
    assert all(b > a for a, b in zip(times, times[1:]))


# ---- soak: the short variant (the long one is `smile-mirror soak`, 100,000 frames) ---------------

def test_short_soak_passes(model_cache: Path) -> None:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SMILE_MIRROR_CACHE": str(model_cache)}
    env.pop("SMILE_MIRROR_CONFIG", None)
    # warm-up 1000: the screen's texture cache (bounded at 24 MB) fills over the first ~1000 frames
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "soak", "--frames", "1500", "--every", "250",
                           "--warmup", "1000"], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("frames=") for line in lines) == 1500 // 250 + 1
    assert lines[-1].startswith("PASS: 1500 frames"), lines[-1]
    assert "loop_errors=0" in done.stdout
