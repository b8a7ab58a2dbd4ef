"""The mirror's main loop: events -> newest frame -> maybe score it -> state -> draw -> present.

Capture and inference run in their own threads (core.pipeline); this loop only waits for the
next camera frame, so it runs at camera rate and never waits for the model. Any exception in
one iteration is logged (throttled) and shown as a calm failsafe notice; the loop carries on.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, TextIO

from core.clock import now_ms
from core.errors import ConfigError
from core.safe_io import OptionalWriter
from core.pipeline import CaptureThread, InferenceWorker, SyncInference, Throttle
from core.scheduler import Scheduler
from core.sources.base import FrameSource
from core.types import SmileReading, reading_record as fields_of
from core.backends import backend_of
from core.landmarker import Landmarker
from kiosk.display import PRESS, QUIT, TOGGLE_DIAGNOSTICS
from kiosk.modes.base import Mode, Tick
from kiosk.render import Renderer
from kiosk.states import KioskStates
from kiosk.text import t
from kiosk.telemetry import ModeFacts, NullTelemetry, Onsets, Telemetry
from kiosk.view import Screen, View

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def ready(self) -> None: ...
    def watchdog(self) -> None: ...
    def status(self, text: str) -> None: ...
    def stopping(self) -> None: ...


class NullNotifier:
    def ready(self) -> None: ...
    def watchdog(self) -> None: ...
    def status(self, text: str) -> None: ...
    def stopping(self) -> None: ...


@dataclass(slots=True)
class RunStats:
    """What happened during a run; `bench` and tests read it."""

    displayed: int = 0
    scored: int = 0
    readings: int = 0
    faces: int = 0
    landmarker_errors: int = 0
    loop_errors: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=4096))
    infer_ms: deque = field(default_factory=lambda: deque(maxlen=4096))
    started_ms: float = 0.0
    ended_ms: float = 0.0


class App:
    def __init__(self, *, open_source: Callable[[], FrameSource], landmarker: Landmarker, display,
                 scheduler: Scheduler | None = None, notifier: Notifier | None = None, frames: int = 0,
                 readings: TextIO | OptionalWriter | None = None, diagnostics: bool = False, synchronous: bool = False,
                 stale_s: float = 1.5, backoff_s: tuple[float, float] = (0.5, 10.0),
                 mode: Mode | None = None, accent: tuple[int, int, int] | None = None, logo=None,
                 telemetry: Telemetry | None = None) -> None:
        from kiosk.modes.lobby import LobbyMode

        self.capture = CaptureThread(open_source, backoff_s=backoff_s, stale_s=stale_s)
        self.inference = SyncInference(landmarker) if synchronous else InferenceWorker(landmarker)
        self.scheduler = scheduler or Scheduler()
        self.display = display
        self.renderer = Renderer(display.canvas, accent=accent, logo=logo) if display.wants_pixels else None
        self.notifier = notifier or NullNotifier()
        self.states = KioskStates()
        self.mode: Mode = mode if mode is not None else LobbyMode()
        self.frames_limit = frames
        self.readings_out = readings
        self.diagnostics = diagnostics
        self.synchronous = synchronous
        self.stats = RunStats()
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self._onsets = Onsets()
        self._mode_facts = ModeFacts()
        self._gauged: tuple[float, int, int] | None = None  # (ms, displayed, readings) at the last gauges
        self.reading: SmileReading | None = None
        self._stop = threading.Event()
        self._throttle = Throttle(60.0)
        self._ready_sent = False
        self._last_log_s = -1e9
        self._last_raw: tuple[float, float] | None = None
        self._frame = None
        self._frame_ms = -1e12
        self._last_screen: Screen | None = None

    def stop(self, *_: object) -> None:
        """Ask the loop to finish (signal handlers call this)."""
        self._stop.set()

    def run(self) -> int:
        """Run until quit, SIGTERM, the frame limit or the end of finite media. Returns 0."""
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        if threading.current_thread() is threading.main_thread():
            for s in previous:
                signal.signal(s, self.stop)
        self.capture.start()
        self.stats.started_ms = now_ms()
        last_index = 0
        try:
            while not self._stop.is_set():
                try:
                    last_index = self._iterate(last_index)
                except Exception as exc:  # never a traceback on the wall
                    self.stats.loop_errors += 1
                    self.states.fail(self._media_clock(now_ms()))
                    if self._throttle.ready():
                        log.exception("main loop error (%d so far); showing the failsafe screen: %s",
                                      self.stats.loop_errors, exc)
                    time.sleep(0.05)
                if self.frames_limit and self.stats.displayed >= self.frames_limit:
                    break
                if self.capture.drained and not self.inference.busy:
                    self._consume()  # the last result, if it arrived after the last frame
                    break
        finally:
            self.stats.ended_ms = now_ms()
            self._shutdown()
            if threading.current_thread() is threading.main_thread():
                for s, handler in previous.items():
                    signal.signal(s, handler)
        return 0

    def _shutdown(self) -> None:
        """Release everything, step by step: one failing step must not leave the camera open."""
        steps: list[Callable[[], object]] = [self.notifier.stopping, self.mode.close, self._report_mode,
                                             self.telemetry.close]
        # a hung camera driver must not hold up SIGTERM: give the capture thread one second
        steps += [lambda: self.capture.stop(timeout_s=1.0), self.inference.close, self.display.close]
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("a shutdown step failed; carrying on with the others")

    def _iterate(self, last_index: int) -> int:
        for event in self.display.events():
            if event == QUIT:
                self._stop.set()
            elif event == TOGGLE_DIAGNOSTICS:
                self.diagnostics = not self.diagnostics
            elif event == PRESS and (pressed := getattr(self.mode, "pressed", None)) is not None:
                pressed()  # a mode that offers something to press (the booth's Print)
        got = self.capture.next_frame(last_index, timeout_s=0.1 if self.capture.live else 0.5)
        now = now_ms()
        if got is not None:
            frame, received = got
            last_index = frame.index
            self._frame, self._frame_ms = frame, now
            if not self.capture.realtime:  # media as fast as possible: wait for the model, drop nothing
                self.inference.wait_idle(10.0)
                self._consume()
            # The schedule runs on the frame's own clock: camera time for cameras, media time for
            # files, so a video scores the same frames whether paced or not.
            if self.scheduler.offer(frame.t_ms, self.inference.busy, frame.rgb,
                                    every_frame=self.mode.score_every_frame()):
                self.inference.submit(frame, received)
                self.stats.scored += 1
        self._consume()
        status = self.capture.status()
        camera_ok = status.state == "running" and now - self._frame_ms <= self.capture.stale_s * 1000
        clock = self._media_clock(now)
        screen = self.states.step(clock, camera_ok=camera_ok or status.state == "ended",
                                  face=self.reading is not None)
        screen = self.mode.step(Tick(clock, screen, self.reading, self._frame, self.capture))
        if got is None and screen in (Screen.MIRROR, Screen.ATTRACT) and not self.mode.animating():
            return last_index  # nothing new to show: don't redraw the same frame
        self._show(screen, status, now)
        return last_index

    def _media_clock(self, now: float) -> float:
        """The newest frame's own time, advanced by wall time since it arrived: camera time for
        cameras, the video's timeline for files played faster than real time."""
        if self._frame is None:
            return now
        return self._frame.t_ms + (now - self._frame_ms)

    def _frame_clock(self, now: float) -> float:
        """`now` on the clock the frames' `t_ms` use, so a flip and a capture compare: monotonic
        time for a camera (its frames are stamped at capture), the media clock for a file played
        in real time, and the newest frame's own time for one played as fast as possible (its
        timeline does not move while the loop waits for the model)."""
        if self.capture.live:
            return now
        if not self.capture.realtime and self._frame is not None:
            return self._frame.t_ms
        return self._media_clock(now)

    def _consume(self) -> None:
        result = self.inference.poll()
        if result is None:
            return
        if result.error:
            self.stats.landmarker_errors += 1
        reading = self.mode.observe(result.faces, result.t_ms)
        self.reading = reading
        rate = 0.0
        if reading is not None:
            self.stats.faces += 1
            if self._last_raw is not None and result.t_ms > self._last_raw[0]:
                rate = (reading.raw_score - self._last_raw[1]) * 1000.0 / (result.t_ms - self._last_raw[0])
            self._last_raw = (result.t_ms, reading.raw_score)
        else:
            self._last_raw = None
        self.scheduler.observe(result.infer_ms, bool(result.faces), rate)
        self.stats.readings += 1
        self.stats.latencies_ms.append(result.latency_ms)
        self.stats.infer_ms.append(result.infer_ms)
        self._report_reading(reading, result.latency_ms)
        if self.readings_out is not None:
            record = {"t_ms": round(result.t_ms, 1), **reading_record(reading), **self.mode.record()}
            self.readings_out.write(json.dumps(record) + "\n")

    def _show(self, screen: Screen, status, now: float) -> None:
        if self.renderer is not None:
            message, detail = _words(screen, status)
            view = View(screen=screen, frame=None if self._frame is None else self._frame.rgb, reading=self.reading,
                        message=message, detail=detail, t_ms=now, mode=self.mode.view(),
                        source=self.capture.source_name,
                        diagnostics=self._diagnostics(status) if self.diagnostics else {})
            self.renderer.draw(view, self.mode)
        else:
            self._log_line(screen, status, self._media_clock(now))
        self.display.present()
        if self.renderer is not None:  # nothing reaches a screen headless: no stimulus was seen
            self.mode.presented(self._frame_clock(now_ms()))
        self.stats.displayed += 1
        self._report_frame(now, status)
        if not self._ready_sent:  # the first screen is up (the mirror, or the calm camera notice)
            self.notifier.ready()
            self._ready_sent = True
        if screen is not self._last_screen:
            self.notifier.status(_STATUS[screen])
            self._last_screen = screen
        # Fed while frames flow, and while a lost camera is being retried on schedule (the calm
        # screen is up and the mirror recovers by itself); starved when the main loop or the
        # camera driver hangs, so systemd restarts us.
        if self.capture.alive(now):
            self.notifier.watchdog()

    def _report_reading(self, reading: SmileReading | None, latency_ms: float) -> None:
        """One inference result's anonymous facts: onsets, the score, the latency."""
        t = self.telemetry
        t.count("readings")
        for name, n in self._onsets.step(reading).items():
            t.count(name, n)
        if reading is not None:
            t.observe("score", reading.score)
        t.observe("score_latency_seconds", latency_ms / 1000.0)

    def _report_mode(self) -> None:
        """The mode's own counts (photos, trials, sessions), as increments."""
        facts = getattr(self.mode, "facts", None)
        if facts is not None:
            for name, n in self._mode_facts.step(facts()).items():
                self.telemetry.count(name, n)

    def _report_frame(self, now: float, status) -> None:
        """Mode counts every frame; gauges once a second of wall time (over that second)."""
        self._report_mode()
        s = self.stats
        if self._gauged is None:
            self._gauged = (now, s.displayed, s.readings)
            return
        t0, shown0, read0 = self._gauged
        if now - t0 < 1000.0:
            return
        span = (now - t0) / 1000.0
        st, t = self.scheduler.stats, self.telemetry
        t.gauge("display_fps", (s.displayed - shown0) / span)
        t.gauge("score_rate", (s.readings - read0) / span)
        t.gauge("inference_seconds", self.scheduler.infer_ms / 1000.0)
        t.gauge("skipped_frames", st.skipped_busy + st.skipped_rate)
        t.gauge("camera_up", 1.0 if status.state == "running" and now - self._frame_ms <= self.capture.stale_s * 1000
                else 0.0)
        self._gauged = (now, s.displayed, s.readings)

    def _diagnostics(self, status) -> dict[str, str]:
        s, st = self.stats, self.scheduler.stats
        elapsed = max(1e-3, (now_ms() - s.started_ms) / 1000.0)
        return {
            "source": self.capture.source_name or status.state,
            "display fps": f"{s.displayed / elapsed:.1f}",
            "scores/s": f"{s.readings / elapsed:.1f}",
            "inference": f"{self.scheduler.infer_ms:.1f} ms ({backend_of(self.inference.runner.landmarker)})",
            "skipped": f"{st.skipped_busy + st.skipped_rate} ({st.skipped_busy} busy)",
        }

    def _log_line(self, screen: Screen, status, now: float) -> None:
        """One line per second (of the source's clock) when there is no screen."""
        if now / 1000.0 - self._last_log_s < 1.0:
            return
        self._last_log_s = now / 1000.0
        r = self.reading
        reading = (f"score={r.score:.0f} kind={r.kind.value} eye={r.eye_engagement:.0f}" if r is not None
                   else "no face")
        d = self._diagnostics(status)
        log.info("%s | %s | fps=%s scores/s=%s inference=%s skipped=%s", screen.value, reading, d["display fps"],
                 d["scores/s"], d["inference"], d["skipped"])


def reading_record(reading: SmileReading | None) -> dict:
    """One line of `--readings` (less its time): the raw and displayed readings."""
    raw = None if reading is None else round(reading.raw_score, 2)
    return {"face": reading is not None, "raw": raw, **fields_of(reading)}


_STATUS = {Screen.ATTRACT: "Waiting for a visitor", Screen.MIRROR: "Scoring a visitor", Screen.REVIEW: "Photo taken",
           Screen.UNAVAILABLE: "Camera unavailable, reconnecting", Screen.FAILSAFE: "Recovering from an error"}


def _words(screen: Screen, status) -> tuple[str, str]:
    if screen is Screen.UNAVAILABLE:
        return t("camera_unavailable_title"), t("camera_unavailable_detail")
    if screen is Screen.FAILSAFE:
        return t("failsafe_title"), t("failsafe_detail")
    return "", ""


def open_readings(path: str) -> OptionalWriter | None:
    """The `--readings` file, line-buffered so a crash loses at most the current line. Readings
    are optional output: a write that fails (a full disk) is said once and writing stops."""
    if not path:
        return None
    try:
        return OptionalWriter(open(Path(path), "w", encoding="utf-8", buffering=1), path, "readings")
    except OSError as exc:
        raise ConfigError(f"cannot write readings to {path} ({exc.strerror or exc}); choose another file "
                          f"with --readings") from None
