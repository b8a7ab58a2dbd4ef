"""The two compositors (kiosk.canvas) draw the same screens: SDL's renderer (here its software
one, as a GPU's stand-in) against the CPU's blitters on the window surface."""

from __future__ import annotations

import cv2
import numpy as np
import pygame
import pytest

from core.types import SmileKind, SmileReading
from kiosk.canvas import RendererCanvas, SurfaceCanvas
from kiosk.coaching import Cue
from kiosk.display import RecordingDisplay
from kiosk.modes.lobby import LobbyMode, LobbyView
from kiosk.paint import SHADE
from kiosk.render import Renderer
from kiosk.view import Screen, View

READING = SmileReading(t_ms=0.0, score=78, kind=SmileKind.POSED, eye_engagement=41, box=(0.38, 0.05, 0.62, 0.45),
                       raw_score=78)


def draw(compositor: str, size: tuple[int, int], frame: np.ndarray, *, rotate: int = 0) -> np.ndarray:
    display = RecordingDisplay(screen=size, rotate=rotate, compositor=compositor)
    try:
        want = SurfaceCanvas if compositor == "surface" else RendererCanvas
        assert isinstance(display.canvas, want)
        Renderer(display.canvas).draw(View(Screen.MIRROR, frame, READING, mode=LobbyView(Cue.EYES)), LobbyMode())
        return display.snapshot()
    finally:
        display.close()


@pytest.mark.parametrize("size,rotate", [((1920, 1080), 0), ((1080, 1920), 0), ((1280, 720), 90)],
                         ids=["landscape", "portrait", "turned"])
def test_both_compositors_draw_the_same_screen(astronaut: np.ndarray, size, rotate) -> None:
    frame = cv2.resize(astronaut, (640, 480))
    by_renderer = draw("renderer", size, frame, rotate=rotate).astype(np.int16)
    by_cpu = draw("surface", size, frame, rotate=rotate).astype(np.int16)
    assert by_cpu.shape == by_renderer.shape
    diff = np.abs(by_cpu - by_renderer)
    # the same sprites, blended by two libraries and a camera picture scaled by two: rounding only
    assert diff.mean() < 1.5, diff.mean()  # measured: 0.5-0.6
    assert np.percentile(diff, 99) <= 8, np.percentile(diff, 99)  # measured: 2


def test_the_cpu_compositor_shows_each_new_camera_frame_and_skips_the_pointless_fill() -> None:
    display = RecordingDisplay(screen=(960, 540), compositor="surface")
    try:
        canvas = display.canvas
        for value in (40, 200):
            frame = np.full((480, 640, 3), value, np.uint8)
            canvas.begin(SHADE)
            canvas.image("camera", frame, (0, 60, 640, 360), pygame.Rect(0, 0, 960, 540), flip=True)
            canvas.finish()
            display.present()
            shown = display.snapshot()
            assert (shown == value).all(), (value, shown.min(), shown.max())
        canvas.begin(SHADE)  # nothing drawn: the background colour after all
        canvas.finish()
        assert (display.snapshot() == SHADE).all()
    finally:
        display.close()


def test_sprites_keep_their_own_alpha_and_take_the_drawn_one() -> None:
    display = RecordingDisplay(screen=(64, 32), compositor="surface")
    try:
        canvas = display.canvas
        half = pygame.Surface((16, 16), pygame.SRCALPHA)
        half.fill((255, 255, 255, 128))
        sprite = canvas.sprite(("half",), lambda: half)
        canvas.begin((0, 0, 0))
        canvas.draw(sprite, pygame.Rect(0, 0, 16, 16))              # its own alpha: half way
        canvas.draw(sprite, pygame.Rect(32, 0, 16, 16), alpha=128)   # and half of that
        canvas.draw(sprite, pygame.Rect(0, 16, 32, 16))              # stretched to the rectangle
        canvas.fill((255, 255, 255, 64), pygame.Rect(48, 16, 16, 16))
        canvas.finish()
        shown = display.snapshot()[..., 0].astype(int)
        assert abs(shown[8, 8] - 128) <= 2 and abs(shown[8, 40] - 64) <= 2 and shown[8, 20] == 0
        assert abs(shown[24, 30] - 128) <= 2 and abs(shown[24, 56] - 64) <= 2
    finally:
        display.close()


def test_a_camera_frame_redrawn_looks_as_it_did_and_a_photo_is_scaled_smoothly() -> None:
    """A screen redrawn between camera frames (an animation) must not alternate between two
    scalings of the same frame: that shimmers."""
    display = RecordingDisplay(screen=(960, 540), compositor="surface")
    rng = np.random.default_rng(1)
    try:
        canvas, whole = display.canvas, pygame.Rect(0, 0, 960, 540)
        shown = []
        frames = [rng.integers(0, 255, (180, 320, 3), np.uint8) for _ in range(2)]
        for frame in (frames[0], frames[1], frames[1]):
            canvas.begin(SHADE)
            canvas.image("camera", frame, (0, 0, 320, 180), whole)
            canvas.finish()
            shown.append(display.snapshot())
        assert (shown[1] == shown[2]).all()
        # streaming: each camera pixel became a 3x3 block (nearest), as SDL's software renderer does
        assert (shown[1][0:3, 0:3] == shown[1][0, 0]).all()
        canvas.begin(SHADE)
        canvas.image("photo", frames[0], (0, 0, 320, 180), whole)  # shown once: smooth
        canvas.finish()
        assert not (display.snapshot()[0:3, 0:3] == display.snapshot()[0, 0]).all()
    finally:
        display.close()
