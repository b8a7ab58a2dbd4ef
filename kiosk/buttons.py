"""The booth's physical buttons on GPIO pins, through gpiozero: Print, and a photo without a smile.

gpiozero calls back on its own thread; a press is only recorded there (a threading.Event) and
taken by the display thread on its next step, so no state of the mirror is touched from a
callback. The pin factory is gpiozero's own choice (lgpio on a Pi 5, its env variable
GPIOZERO_PIN_FACTORY overrides it), or injected: tests pass gpiozero's shipped MockFactory.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class _Pressed:
    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def take(self) -> bool:
        """True once per press (or several presses between two steps)."""
        if self._event.is_set():
            self._event.clear()
            return True
        return False


class BoothButtons:
    """Buttons wired from a pin to ground (gpiozero's Button: pull-up, debounced)."""

    def __init__(self, *, print_pin: int = 0, photo_pin: int = 0, pin_factory: Any = None) -> None:
        self.print_pressed, self.photo_pressed = _Pressed(), _Pressed()
        self._buttons: list[Any] = []
        if not (print_pin or photo_pin):
            return
        from gpiozero import Button

        for pin, pressed, what in ((print_pin, self.print_pressed, "print"), (photo_pin, self.photo_pressed, "photo")):
            if not pin:
                continue
            try:
                button = Button(pin, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
            except Exception as exc:  # no GPIO here (a laptop), or the pin is taken: the booth goes on
                log.warning("%s button on GPIO%d not available (%s)", what, pin, exc)
                continue
            button.when_pressed = pressed.set
            self._buttons.append(button)
            log.info("%s button on GPIO%d", what, pin)

    def close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons.clear()
