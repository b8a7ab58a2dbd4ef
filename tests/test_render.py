"""What a person sees: rendered frames saved as PNG and checked pixel by pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

from core.types import SmileKind, SmileReading
from kiosk.display import canvas_size
from kiosk.render import Renderer, score_colour
from kiosk.view import Screen, View


def reading(score: float, kind: SmileKind = SmileKind.GENUINE, eye: float = 70.0) -> SmileReading:
    return SmileReading(t_ms=0.0, score=score, kind=kind, eye_engagement=eye, box=(0.35, 0.1, 0.55, 0.4),
                        raw_score=score)


def render(view: View, size=(640, 360)) -> np.ndarray:
    canvas = pygame.Surface(size)
    Renderer(size).draw(view, canvas)
    return pygame.surfarray.array3d(canvas).swapaxes(0, 1)


def colour_pixels(img: np.ndarray, colour, tol: int = 6) -> int:
    return int((np.abs(img.astype(int) - np.array(colour)).max(axis=2) <= tol).sum())


def test_the_gauge_fills_with_the_score(astronaut: np.ndarray, tmp_path: Path) -> None:
    counts = {}
    for score in (20, 60, 95):
        img = render(View(Screen.MIRROR, astronaut, reading(score)))
        pygame.image.save(pygame.surfarray.make_surface(img.swapaxes(0, 1)), str(tmp_path / f"mirror{score}.png"))
        counts[score] = colour_pixels(img[180:, :200], score_colour(score))
    assert counts[20] > 50
    assert 2.0 < counts[60] / counts[20] < 4.0
    assert 1.3 < counts[95] / counts[60] < 1.9


def test_the_kind_is_written_in_its_colour(astronaut: np.ndarray) -> None:
    genuine = render(View(Screen.MIRROR, astronaut, reading(80, SmileKind.GENUINE)))
    posed = render(View(Screen.MIRROR, astronaut, reading(80, SmileKind.POSED)))
    panel = slice(220, 300), slice(170, 500)
    assert colour_pixels(genuine[panel], (255, 206, 84), 30) > 200
    assert colour_pixels(posed[panel], (140, 200, 255), 30) > 200


def test_the_picture_is_mirrored(astronaut: np.ndarray) -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :100] = (255, 0, 0)  # red on the camera's left
    img = render(View(Screen.ATTRACT, frame, None))
    assert img[10, 630, 0] > img[10, 630, 2] and img[10, 5, 0] < 60  # red shows on the right, dimmed


def test_notice_screens_need_no_frame() -> None:
    img = render(View(Screen.UNAVAILABLE, None, None, message="Camera unavailable", detail="Reconnecting"))
    assert colour_pixels(img, (245, 247, 250), 40) > 300  # white words on the calm dark screen


@pytest.mark.parametrize("frame, screen, rotate, expected", [
    ((640, 480), (1920, 1080), 0, (640, 360)),
    ((640, 480), (1024, 768), 0, (640, 480)),
    ((640, 480), (1920, 1080), 90, (270, 480)),
    ((1280, 720), (1280, 800), 0, (1152, 720)),
])
def test_canvas_fills_the_screen_without_upscaling(frame, screen, rotate, expected) -> None:
    assert canvas_size(frame, screen, rotate) == expected
