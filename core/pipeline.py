"""Capture and inference, each in its own thread, handing over through one-slot "latest wins"
boxes so the display loop never waits for the model and no frame is ever queued.

`CaptureThread` keeps the newest camera frame and reopens a failed camera with back-off (as
Frigate's CameraWatchdog does); everything it learns is published under its lock and read
through `status()`, and a still photo comes back as a `Future` resolved by the capture thread
(as picamera2's `Job` does). `InferenceWorker` scores one frame at a time; a frame offered
while it is busy is refused, and the scheduler counts it as skipped. `SyncInference` does the
same work in the caller's thread; both hand the frame to one `LandmarkerRunner`, which owns the
failure count.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.clock import now_ms
from core.errors import FrameError, SourceError
from core.landmarker import Landmarker, check_frame
from core.sources.base import FrameSource
from core.types import FaceObservation, Frame

log = logging.getLogger(__name__)


class Throttle:
    """Lets a repeated log message through at most once per `period_s` (monotonic)."""

    def __init__(self, period_s: float = 60.0) -> None:
        self.period_s = period_s
        self._last = -1e18
        self.suppressed = 0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.period_s:
            self._last = now
            return True
        self.suppressed += 1
        return False


@dataclass(frozen=True, slots=True)
class CaptureStatus:
    """What the capture thread knows, taken in one piece under its lock."""

    state: str        # "starting", "running", "unavailable", "ended"
    reason: str = ""
    frames: int = 0
    bad_frames: int = 0
    reconnects: int = 0
    source_name: str = ""    # the open source ("" before the first one opened)
    live: bool = True        # a camera (newest frame wins), not media (every frame handed over)
    realtime: bool = True    # frames come at their own pace (false: media as fast as possible)
    heartbeat_ms: float = 0.0  # last sign of progress: a frame read, or a retry on schedule


class CaptureThread:
    """Reads a FrameSource in the background and always offers the newest frame.

    Live sources (cameras) overwrite an unread frame: the display wants the newest. Media
    sources (files, the demo) wait for the frame to be taken, so no video frame is lost to a
    slow consumer. A source that fails is closed and reopened with back-off, for ever.
    """

    def __init__(self, open_source: Callable[[], FrameSource], *, backoff_s: tuple[float, float] = (0.5, 10.0),
                 stale_s: float = 1.5) -> None:
        self._open = open_source
        self._backoff = backoff_s
        self.stale_s = stale_s
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._received_ms = 0.0
        self._taken = True
        self._stop = threading.Event()
        self._state, self._reason = "starting", ""
        self._frames = self._bad = self._reconnects = 0
        self._heartbeat_ms = now_ms()
        self._source_name, self._live, self._realtime = "", True, True
        self._still: Future[np.ndarray | None] | None = None  # asked for, not yet taken up
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def request_still(self) -> Future[np.ndarray | None]:
        """Ask for a full-resolution still. It is taken between two frames, in this thread,
        because camera libraries are not safe to call from two threads at once. The future
        gives the image, or None when the source could not give one (use the preview frame
        instead). Cancelling it drops the answer; a newer request replaces an unserved one."""
        future: Future[np.ndarray | None] = Future()
        with self._cond:
            if self._finished:  # nobody left to take it
                future.set_result(None)
                return future
            if self._still is not None:
                self._still.cancel()
            self._still = future
        return future

    def start(self) -> "CaptureThread":
        self._thread.start()
        return self

    def status(self) -> CaptureStatus:
        with self._cond:
            return CaptureStatus(self._state, self._reason, self._frames, self._bad, self._reconnects,
                                 self._source_name, self._live, self._realtime, self._heartbeat_ms)

    @property
    def source_name(self) -> str:
        with self._cond:
            return self._source_name

    @property
    def live(self) -> bool:
        with self._cond:
            return self._live

    @property
    def realtime(self) -> bool:
        with self._cond:
            return self._realtime

    def alive(self, now: float) -> bool:
        """The capture thread is making progress: delivering frames, or retrying a lost camera
        on schedule. False when it is stuck inside a driver call (only a restart helps then)."""
        limit_ms = 1000.0 * (max(self._backoff[1], self.stale_s) + 2.0)
        with self._cond:
            heartbeat = self._heartbeat_ms
        return self._thread.is_alive() and now - heartbeat <= limit_ms

    def next_frame(self, after_index: int, timeout_s: float) -> tuple[Frame, float] | None:
        """The newest frame with an index after `after_index` and its receipt time, waiting up
        to `timeout_s`; None if none came (camera stalled, source ended or stopping)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._frame is None or self._taken or self._frame.index == after_index:
                left = deadline - time.monotonic()
                if left <= 0 or self._state == "ended" or self._stop.is_set():
                    return None
                self._cond.wait(left)
            self._taken = True
            self._cond.notify_all()
            return self._frame, self._received_ms

    @property
    def drained(self) -> bool:
        """A finite source has ended and its last frame has been taken."""
        with self._cond:
            return self._state == "ended" and (self._frame is None or self._taken)

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout_s)

    # -- the thread --------------------------------------------------------------------------
    def _set(self, state: str, reason: str = "") -> None:
        with self._cond:
            self._state, self._reason = state, reason
            self._heartbeat_ms = now_ms()
            self._cond.notify_all()

    def _run(self) -> None:
        delay = self._backoff[0]
        source: FrameSource | None = None
        index = 0  # our own frame numbering: stays increasing across reconnects
        t_shift, last_t = 0.0, float("-inf")  # and frame times too: see below
        try:
            while not self._stop.is_set():
                if source is None:
                    try:
                        source = self._open()
                    except Exception as exc:  # SourceError, or a driver failing in a way nobody foresaw
                        self._set("unavailable", _reason(exc))
                        log.warning("camera unavailable: %s; retrying in %.1f s", _reason(exc), delay)
                        self._stop.wait(delay)
                        delay = min(delay * 2, self._backoff[1])
                        continue
                    with self._cond:
                        self._source_name, self._live, self._realtime = source.name, source.live, source.realtime
                    self._set("running")
                self._serve_still(source)
                try:
                    frame = source.read()
                    if frame is None and source.live:  # a camera has no end: nothing means it is lost
                        raise SourceError(f"{source.name} returned no frame")
                except Exception as exc:  # SourceError, or any other driver failure: reopen it
                    # back off here too, so a camera that opens but never reads is not
                    # reopened in a tight loop, nor logged hundreds of times a second
                    log.warning("%s; reopening in %.1f s", _reason(exc), delay)
                    self._set("unavailable", _reason(exc))
                    _close_quietly(source)
                    source = None
                    with self._cond:
                        self._reconnects += 1
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                with self._cond:
                    self._heartbeat_ms = now_ms()
                if frame is None:
                    self._set("ended", "end of media")
                    return
                try:
                    check_frame(frame.rgb)
                except FrameError as exc:
                    with self._cond:
                        self._bad += 1
                    log.debug("bad frame skipped: %s", exc)
                    continue
                delay = self._backoff[0]
                index += 1
                t_ms = frame.t_ms + t_shift
                if t_ms <= last_t:  # a reopened file or demo restarts its clock at 0: the scheduler
                    t_shift += last_t + 1.0 - t_ms  # would then score nothing until it caught up
                    t_ms = last_t + 1.0
                last_t = t_ms
                self._publish(Frame(rgb=frame.rgb, t_ms=t_ms, index=index))
        finally:
            if source is not None:
                _close_quietly(source)
            with self._cond:
                self._finished = True
                pending, self._still = self._still, None
                self._cond.notify_all()
            if pending is not None and pending.set_running_or_notify_cancel():
                pending.set_result(None)  # no source any more: the preview frame will do

    def _serve_still(self, source: FrameSource) -> None:
        """Take the still asked for, if any (and not cancelled meanwhile)."""
        with self._cond:
            future, self._still = self._still, None
        if future is None or not future.set_running_or_notify_cancel():
            return
        try:
            image = source.capture_still()
        except Exception as exc:  # a failed still must not take the preview down with it
            log.warning("still capture failed (%s); using the preview frame", exc)
            image = None
        future.set_result(image)

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            if not self._live:  # media: hand over every frame
                while not self._taken and not self._stop.is_set():
                    self._cond.wait(0.1)
            self._frame, self._received_ms, self._taken = frame, now_ms(), False
            self._frames += 1
            if self._state != "running":
                self._state, self._reason = "running", ""
            self._cond.notify_all()


def _reason(exc: Exception) -> str:
    """Our own errors are sentences already; anything else is named by its type."""
    return str(exc) if isinstance(exc, SourceError) else f"camera failed ({type(exc).__name__}: {exc})"


def _close_quietly(source: FrameSource) -> None:
    try:
        source.close()
    except Exception as exc:  # a dying device may fail to close; it is gone either way
        log.debug("closing %s failed: %s", getattr(source, "name", source), exc)


@dataclass(frozen=True, slots=True)
class InferenceResult:
    """One finished landmarker run."""

    frame_index: int
    t_ms: float            # the frame's own time
    received_ms: float     # when capture received the frame (monotonic)
    done_ms: float         # when the result was ready (monotonic)
    faces: list[FaceObservation]
    infer_ms: float        # wall time inside the landmarker
    error: str = ""

    @property
    def latency_ms(self) -> float:
        return self.done_ms - self.received_ms


class LandmarkerRunner:
    """Runs the landmarker on one frame at a time and owns what that costs: the failure count
    and the throttled warning. One bad frame never stops the mirror: it becomes a result with
    no faces and the error named."""

    def __init__(self, landmarker: Landmarker, throttle: Throttle | None = None) -> None:
        self.landmarker = landmarker
        self.throttle = throttle or Throttle()
        self._lock = threading.Lock()  # the count is written by the worker, read by the display
        self._errors = 0

    @property
    def errors(self) -> int:
        with self._lock:
            return self._errors

    def run(self, frame: Frame, received_ms: float) -> InferenceResult:
        t0 = now_ms()
        error = ""
        try:
            faces = self.landmarker.detect(frame.rgb, frame.t_ms)
        except Exception as exc:  # one bad frame must not stop the mirror
            faces, error = [], f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._errors += 1
                errors = self._errors
            if self.throttle.ready():
                log.warning("landmarker failed on frame %d (%s); frame skipped (%d so far)", frame.index, error,
                            errors)
        t1 = now_ms()
        return InferenceResult(frame_index=frame.index, t_ms=frame.t_ms, received_ms=received_ms, done_ms=t1,
                               faces=faces, infer_ms=t1 - t0, error=error)

    def close(self) -> None:
        self.landmarker.close()


class SyncInference:
    """Runs the landmarker in the caller's thread: the naive baseline, and deterministic
    batch processing. Same interface as InferenceWorker."""

    def __init__(self, landmarker: Landmarker) -> None:
        self.runner = LandmarkerRunner(landmarker)
        self._result: InferenceResult | None = None

    @property
    def errors(self) -> int:
        return self.runner.errors

    @property
    def busy(self) -> bool:
        return False

    def wait_idle(self, timeout_s: float) -> bool:
        return True

    def submit(self, frame: Frame, received_ms: float) -> bool:
        self._result = self.runner.run(frame, received_ms)
        return True

    def poll(self) -> InferenceResult | None:
        result, self._result = self._result, None
        return result

    def close(self) -> None:
        self.runner.close()


class InferenceWorker:
    """Runs the landmarker in a background thread, one frame at a time, never queueing."""

    def __init__(self, landmarker: Landmarker) -> None:
        self.runner = LandmarkerRunner(landmarker)
        self._cond = threading.Condition()
        self._job: tuple[Frame, float] | None = None
        self._result: InferenceResult | None = None
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    @property
    def errors(self) -> int:
        return self.runner.errors

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy

    def submit(self, frame: Frame, received_ms: float) -> bool:
        with self._cond:
            if self._busy or self._stop:
                return False
            self._job, self._busy = (frame, received_ms), True
            self._cond.notify_all()
            return True

    def poll(self) -> InferenceResult | None:
        with self._cond:
            result, self._result = self._result, None
        return result

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until the current job is done (media played as fast as possible, tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._stop)
                if self._stop:
                    return
                frame, received = self._job  # type: ignore[misc]
                self._job = None
            result = self.runner.run(frame, received)
            with self._cond:
                self._result, self._busy = result, False
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(5.0)
        if self._thread.is_alive():  # still inside the model: closing it under the thread would crash
            log.warning("the landmarker did not finish within 5 s; leaving it to the process exit")
            return
        self.runner.close()
