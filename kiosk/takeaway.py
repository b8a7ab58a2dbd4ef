"""What a guest takes home from the photo booth: a QR code to the photo, and a print.

Both are off by default. This joins the booth's saved photos to the share server (a token per
photo, made on a worker thread since it writes the token file) and to the printer (CUPS, on its
own thread), and takes the presses of Print (touch, mouse, key, GPIO button). Everything here
that the display thread calls returns at once.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.booth import BoothView, Phase

log = logging.getLogger(__name__)


class Takeaway:
    CHECK_MS = 10_000.0  # how often the printer's state is read while printing is on

    def __init__(self, *, sharing: Any = None, printer: Any = None, print_mode: str = "off",
                 buttons: Any = None) -> None:
        self.sharing, self.printer, self.print_mode, self.buttons = sharing, printer, print_mode, buttons
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="share-tokens")
        self._seen = 0
        self._photo: Path | None = None
        self._caption = ""
        self._url: Future[str] | None = None
        self._printed: set[Path] = set()
        self._press = False
        self._checked_at = -1e12

    @classmethod
    def from_config(cls, config: Any, state_dir: Path) -> "Takeaway | None":
        """None when neither sharing, printing nor a button is configured."""
        from core.errors import ConfigError

        b = config.booth
        if not (b.share or b.print != "off" or b.photo_pin):
            return None
        sharing = printer = buttons = None
        if b.print != "off":
            if not b.printer:
                raise ConfigError(f"booth.print = {b.print!r} needs booth.printer, the CUPS queue's name (lpstat -p).")
            from kiosk.printing import Printer
            printer = Printer.from_config(config)
        if b.share:
            from kiosk.share import Sharing
            try:
                sharing = Sharing.from_config(config, state_dir)
            except OSError as exc:  # the address is not this machine's, or the port is taken
                log.error("share server not started on %s:%d (%s); no QR codes", b.share_host, b.share_port, exc)
        if b.print_pin or b.photo_pin:
            from kiosk.buttons import BoothButtons
            buttons = BoothButtons(print_pin=b.print_pin if b.print == "ask" else 0, photo_pin=b.photo_pin)
        return cls(sharing=sharing, printer=printer, print_mode=b.print, buttons=buttons)

    def before_step(self, booth: Any, now_ms: float) -> None:
        """A photo button press shoots without a smile."""
        if self.buttons is not None and self.buttons.photo_pressed.take():
            booth.trigger.shoot_now(now_ms)

    def pressed(self) -> None:
        """Print was pressed (touch, mouse, key); it counts on the next step."""
        self._press = True

    def step(self, booth: Any, view: BoothView, now_ms: float) -> BoothView:
        """The view with the QR link, the Print offer and the printer's notice."""
        saved = booth.saved
        if len(saved) > self._seen:
            self._seen = len(saved)
            self._photo, self._caption = saved[-1], view.caption
            self._url = self._worker.submit(self.sharing.share, saved[-1]) if self.sharing else None
            if self.printer is not None and self.print_mode == "auto":
                self._print(self._photo)
        if view.phase not in (Phase.CAPTURE, Phase.REVIEW) or view.photo is None:
            self._photo, self._url = None, None
        press = self._press or (self.buttons is not None and self.buttons.print_pressed.take())
        self._press = False
        if press and self.print_mode == "ask" and self._photo is not None:
            self._print(self._photo)
        if self.printer is not None and now_ms - self._checked_at >= self.CHECK_MS:
            self._checked_at = now_ms
            self.printer.check()
        url = ""
        if self._url is not None and self._url.done() and self._url.exception() is None:
            url = self._url.result()
        offer = self.print_mode == "ask" and self._photo is not None and self._photo not in self._printed
        notice = view.notice or (self.printer.notice if self.printer is not None else "")
        return replace(view, share_url=url, print_offer=offer, notice=notice)

    def _print(self, photo: Path) -> None:
        if photo in self._printed:
            return
        self._printed.add(photo)
        self.printer.print_photo(photo, self._caption)

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        for part in (self.buttons, self.printer, self.sharing):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("closing %s failed", type(part).__name__)
