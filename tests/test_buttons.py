"""The booth's GPIO buttons through gpiozero's shipped MockFactory, and Print on touch, mouse, key."""

from __future__ import annotations

import time
from concurrent.futures import Future

import numpy as np
import pygame
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from core.types import SmileKind, SmileReading
from kiosk.booth import BoothTrigger, Phase, PhotoBooth
from kiosk.buttons import BoothButtons
from kiosk.photos import PhotoStore
from kiosk.takeaway import Takeaway


@pytest.fixture
def factory():
    f = MockFactory()
    saved = Device.pin_factory
    try:
        yield f
    finally:
        f.reset()
        Device.pin_factory = saved


def press(factory: MockFactory, pin: int) -> None:
    p = factory.pin(pin)
    p.drive_low()   # the button closes to ground (pull-up)
    time.sleep(0.08)
    p.drive_high()
    time.sleep(0.08)


class Camera:
    def request_still(self) -> Future:
        f: Future = Future()
        f.set_result(np.full((48, 64, 3), 128, np.uint8))
        return f


def test_the_photo_button_shoots_without_a_smile(factory, tmp_path) -> None:
    buttons = BoothButtons(photo_pin=27, pin_factory=factory)
    booth = PhotoBooth(BoothTrigger(hold_ms=400, review_ms=3000), PhotoStore(tmp_path), slideshow=False)
    takeaway = Takeaway(buttons=buttons)
    rgb = np.full((48, 64, 3), 128, np.uint8)
    try:
        def step(t: float):
            takeaway.before_step(booth, t)
            return takeaway.step(booth, booth.step(t, None, rgb, Camera()), t)

        assert all(step(10.0 * i).phase is Phase.ARMED for i in range(10)), "no smile, no photo"
        press(factory, 27)
        views = [step(100 + 10.0 * i) for i in range(1, 60)]
        assert any(v.phase is Phase.REVIEW for v in views), "no smile, but the button took the photo"
        booth.close()
        assert len(booth.saved) == 1
    finally:
        takeaway.close()


def test_touch_mouse_and_key_are_one_press(monkeypatch) -> None:
    from kiosk.display import PRESS
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    try:
        from kiosk import display as d
        pygame.event.clear()
        for ev in (pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(5, 5)),
                   pygame.event.Event(pygame.KEYDOWN, key=pygame.K_p, mod=0, unicode="p", scancode=0),
                   pygame.event.Event(pygame.FINGERDOWN, touch_id=0, finger_id=0, x=0.5, y=0.5, dx=0, dy=0,
                                      pressure=1.0)):
            pygame.event.post(ev)
        got = d._Base.events(None)  # type: ignore[arg-type]
        assert got.count(PRESS) == 3
    finally:
        pygame.event.clear()
