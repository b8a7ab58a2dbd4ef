"""The whole app loop: real landmarker, recorded video as the camera, off-screen display."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pygame
import pytest

from core.errors import SourceError
from core.landmarker import MediapipeLandmarker
from core.sources import VideoFileSource
from kiosk.app import App
from kiosk.display import PygameDisplay, RecordingDisplay
from kiosk.states import KioskStates
from kiosk.view import Screen


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def ready(self) -> None:
        self.sent.append("READY=1")

    def watchdog(self) -> None:
        self.sent.append("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.sent.append(f"STATUS={text}")

    def stopping(self) -> None:
        self.sent.append("STOPPING=1")


def test_video_through_the_whole_loop(face_video: Path, model_path: Path, tmp_path: Path) -> None:
    display = RecordingDisplay(screen=(1280, 720), save_every=30, save_dir=tmp_path)
    notifier = RecordingNotifier()
    with open(tmp_path / "readings.jsonl", "w") as readings:
        app = App(open_source=lambda: VideoFileSource(face_video, pace=False), landmarker=MediapipeLandmarker(model_path),
                  display=display, notifier=notifier, readings=readings)
        screens: list[Screen] = []

        class SpyStates(KioskStates):
            def step(self, now_ms, **kw):
                screens.append(KioskStates.step(self, now_ms, **kw))
                return screens[-1]

        app.states = SpyStates()
        shown: set[int] = set()
        present = display.present

        def spy_present() -> None:  # which of the file's frames reached the screen
            if app._frame is not None:
                shown.add(app._frame.index)
            present()

        display.present = spy_present  # type: ignore[method-assign]
        assert app.run() == 0
    # a file loses no frame, whatever inference costs (an animated screen may be drawn again
    # while a slow machine waits for the next frame: that adds a redraw, not a frame)
    assert len(shown) == 90 and app.stats.displayed >= 90, (len(shown), app.stats.displayed)
    assert app.stats.loop_errors == 0
    lines = [json.loads(x) for x in (tmp_path / "readings.jsonl").read_text().splitlines()]
    assert len(lines) == app.stats.readings >= 10
    with_face = [x for x in lines if x["face"]]
    assert with_face and all(x["score"] >= 50 for x in with_face), "the astronaut smiles"
    assert all(x["t_ms"] < 2000 for x in with_face) and not lines[-1]["face"], "the cat is no face"
    assert set(lines[0]) == {"t_ms", "face", "raw", "score", "kind", "eye_engagement"}
    assert Screen.MIRROR in screens and screens[-1] is Screen.ATTRACT
    assert notifier.sent[0] == "READY=1" and notifier.sent[-1] == "STOPPING=1"
    assert len(display.saved) == 3 and display.size == (1280, 720)


def test_pygame_window_on_the_dummy_driver(face_video: Path, model_path: Path) -> None:
    display = PygameDisplay(fullscreen=False, window=(1280, 720))
    app = App(open_source=lambda: VideoFileSource(face_video, pace=True), landmarker=MediapipeLandmarker(model_path),
              display=display, frames=20, diagnostics=True)
    assert app.run() == 0
    assert app.stats.displayed == 20 and display.frames == 20
    assert not pygame.display.get_init(), "the display is closed on exit"


def test_no_camera_shows_the_calm_screen_and_keeps_the_watchdog_fed(model_path: Path) -> None:
    def absent():
        raise SourceError("no camera is connected")

    display = RecordingDisplay(screen=(640, 480))
    notifier = RecordingNotifier()
    app = App(open_source=absent, landmarker=MediapipeLandmarker(model_path), display=display, notifier=notifier,
              frames=5)
    start = time.monotonic()
    app.run()
    assert time.monotonic() - start < 5
    assert app.states.screen is Screen.UNAVAILABLE
    # READY once the calm screen is up (systemd must not kill a mirror waiting for its camera),
    # and the watchdog fed while the camera is retried on schedule
    assert notifier.sent[0] == "READY=1" and notifier.sent.count("WATCHDOG=1") == 5
    assert app.capture.status().state == "unavailable" and "no camera" in app.capture.status().reason


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_sigterm_stops_cleanly_within_two_seconds(face_video: Path, model_path: Path) -> None:
    app = App(open_source=lambda: VideoFileSource(face_video, pace=True, loop=True),
              landmarker=MediapipeLandmarker(model_path), display=RecordingDisplay(screen=(640, 480)))
    threading.Timer(0.7, os.kill, (os.getpid(), signal.SIGTERM)).start()
    start = time.monotonic()
    assert app.run() == 0
    took = time.monotonic() - start
    assert took < 0.7 + 2.0
    assert not app.capture._thread.is_alive()
    assert signal.getsignal(signal.SIGTERM) is not app.stop, "the previous handler is restored"
