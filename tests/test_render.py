"""What a person sees: rendered frames saved as PNG and checked pixel by pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

from core.types import SmileKind, SmileReading
from kiosk.display import RecordingDisplay
from kiosk.modes.lobby import LobbyMode
from kiosk.paint import ScreenMap, cover_crop, score_colour
from kiosk.render import Renderer
from kiosk.view import Screen, View


def reading(score: float, kind: SmileKind = SmileKind.GENUINE, eye: float = 70.0) -> SmileReading:
    return SmileReading(t_ms=0.0, score=score, kind=kind, eye_engagement=eye, box=(0.35, 0.1, 0.55, 0.4),
                        raw_score=score)


def render(view: View, size=(640, 360), rotate: int = 0) -> np.ndarray:
    display = RecordingDisplay(screen=size, rotate=rotate)
    Renderer(display.canvas).draw(view, LobbyMode())
    return display.snapshot()


def colour_pixels(img: np.ndarray, colour, tol: int = 6) -> int:
    return int((np.abs(img.astype(int) - np.array(colour)).max(axis=2) <= tol).sum())


def test_the_gauge_fills_with_the_score(astronaut: np.ndarray, tmp_path: Path) -> None:
    counts = {}
    for score in (20, 60, 95):
        img = render(View(Screen.MIRROR, astronaut, reading(score)))
        pygame.image.save(pygame.surfarray.make_surface(img.swapaxes(0, 1)), str(tmp_path / f"mirror{score}.png"))
        counts[score] = colour_pixels(img[:, :290], score_colour(score))  # the card, left of the face
    assert counts[20] > 50
    assert 2.0 < counts[60] / counts[20] < 4.0
    assert 1.3 < counts[95] / counts[60] < 1.9


def test_the_kind_is_written_in_its_colour(astronaut: np.ndarray) -> None:
    genuine = render(View(Screen.MIRROR, astronaut, reading(80, SmileKind.GENUINE)))
    posed = render(View(Screen.MIRROR, astronaut, reading(80, SmileKind.POSED)))
    panel = slice(0, 360), slice(0, 290)
    assert colour_pixels(posed[panel], (140, 200, 255), 30) > 200
    assert colour_pixels(genuine[panel], (140, 200, 255), 30) < 20


def test_the_picture_is_mirrored(astronaut: np.ndarray) -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :100] = (255, 0, 0)  # red on the camera's left
    img = render(View(Screen.ATTRACT, frame, None))
    assert img[10, 630, 0] > img[10, 630, 2] and img[10, 5, 0] < 60  # red shows on the right, dimmed


def test_notice_screens_need_no_frame() -> None:
    img = render(View(Screen.UNAVAILABLE, None, None, message="Camera unavailable", detail="Reconnecting"))
    assert colour_pixels(img, (245, 247, 250), 40) > 300  # white words on the calm dark screen


@pytest.mark.parametrize("frame, screen, centre, expected", [
    ((640, 480), (1920, 1080), (0.5, 0.5), (0, 60, 640, 360)),
    ((640, 480), (1024, 768), (0.5, 0.5), (0, 0, 640, 480)),
    ((640, 480), (1080, 1920), (0.5, 0.5), (185, 0, 270, 480)),
    ((640, 480), (1080, 1920), (0.1, 0.5), (0, 0, 270, 480)),      # clamped at the frame's edge
    ((640, 480), (1080, 1920), (0.7, 0.5), (313, 0, 270, 480)),    # follows a visitor off centre
])
def test_the_crop_has_the_screen_shape_and_stays_in_the_frame(frame, screen, centre, expected) -> None:
    assert cover_crop(frame, screen, centre) == expected


def test_a_box_maps_to_the_mirrored_screen() -> None:
    m = ScreenMap((640, 480), (0, 60, 640, 360), (1920, 1080), mirror=True)
    left, top, right, bottom = m.box((0.0, 0.125, 0.25, 0.875))  # the camera's left quarter, full crop height
    assert (round(left), round(top), round(right), round(bottom)) == (1440, 0, 1920, 1080)
    plain = ScreenMap((640, 480), (0, 60, 640, 360), (1920, 1080), mirror=False)
    assert round(plain.box((0.0, 0.125, 0.25, 0.875))[0]) == 0


def test_a_rotated_screen_is_drawn_upright(astronaut: np.ndarray) -> None:
    """A portrait picture on a landscape panel turned by 90 degrees: the words end up sideways
    on the panel, so they read upright to a visitor in front of the turned screen."""
    img = render(View(Screen.UNAVAILABLE, None, None, message="Camera unavailable"), size=(640, 360), rotate=90)
    assert img.shape == (360, 640, 3)
    ink = np.argwhere(img.max(axis=2) > 200)
    spread_y, spread_x = np.ptp(ink[:, 0]), np.ptp(ink[:, 1])
    assert spread_y > 2 * spread_x, "the line of text runs along the panel's short side"


CYCLE_AFTER_CLOSE = """
import gc, os, sys
os.environ["SDL_VIDEODRIVER"] = "dummy"
import numpy as np, pygame
from kiosk.display import {cls}

display = {cls}({args})
canvas = display.canvas
class Holder:  # a painter in a reference cycle, as the app's modes and painters form them
    pass
holder = Holder()
holder.me = holder
holder.canvas = canvas
holder.tex = canvas.sprite(("dot",), lambda: pygame.Surface((64, 64), pygame.SRCALPHA))
canvas.image("camera", np.zeros((480, 640, 3), np.uint8), (0, 0, 640, 480), pygame.Rect(0, 0, 1920, 1080))
canvas.present()
gc.disable()  # the cycle is collected at some later moment, as in a long run
del holder, canvas
display.close()
gc.enable()
gc.collect()
print("closed cleanly")
"""


@pytest.mark.parametrize("cls, args", [("PygameDisplay", "fullscreen=False, window=(1920, 1080)"),
                                       ("RecordingDisplay", "screen=(1920, 1080)")])
def test_closing_the_display_with_textures_in_a_cycle_does_not_crash(cls: str, args: str) -> None:
    """SDL frees a window's renderer with the window: a texture freed after that killed the
    process at exit (seen as a segfault at the end of a 900-frame booth run)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CYCLE_AFTER_CLOSE.format(cls=cls, args=args)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and "closed cleanly" in done.stdout, (done.returncode, done.stderr[-2000:])
