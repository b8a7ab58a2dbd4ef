"""The diagnostics overlay reads on any picture: light text on its own dark panel."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.display import RecordingDisplay
from kiosk.modes.lobby import LobbyMode
from kiosk.render import Renderer
from kiosk.view import Screen, View


@pytest.mark.parametrize("grey", [255, 200, 0])
def test_diagnostics_read_on_a_light_or_dark_picture(grey: int) -> None:
    display = RecordingDisplay(screen=(1280, 720))
    frame = np.full((480, 640, 3), grey, np.uint8)
    items = {"source": "demo", "display fps": "29.8", "scores/s": "14.9", "inference": "12.0 ms", "skipped": "0 (0 busy)"}
    Renderer(display.canvas).draw(View(Screen.ATTRACT, frame, diagnostics=items), LobbyMode())
    px = display.canvas.snapshot().astype(int)  # rows, columns
    u = 720 / 100
    box = px[round(2 * u):round(2 * u) + 5 * round(4.2 * u), round(2 * u):round(2 * u) + 150]
    luminance = box.mean(axis=2)
    text, ground = luminance[luminance > 160], luminance[luminance <= 160]
    assert text.size > 200, "no diagnostics text drawn"
    assert np.median(ground) < 60, f"the text sits on a light background ({np.median(ground):.0f})"
    assert ground.size > text.size  # a panel behind the text, not just a shadow
