"""Prints through CUPS: a 4x6 in layout at 300 dpi, sent with the `lp` client off the display thread.

The booth keeps no print queue of its own: a job handed to CUPS is CUPS's (it survives a
restart of the mirror or of the Pi), and the queue's state is read back from CUPS (`lpstat`)
to tell the guest, calmly, when the printer is missing, out of paper or stopped. Every CUPS call
runs on one worker thread, so a slow or absent print server never holds up the mirror.
`CUPS_SERVER` in the environment picks another server, as for every CUPS client.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.text import N_, t

log = logging.getLogger(__name__)

DPI = 300
PAGE_PX = (6 * DPI, 4 * DPI)  # 4x6 in, landscape: 1800 x 1200
MARGIN = DPI // 6             # 1/6 in all round
LP_TIMEOUT_S = 20.0


def layout(photo_bgr: np.ndarray, caption: str, event_text: str = "", logo_bgr: np.ndarray | None = None
           ) -> np.ndarray:
    """The print: the photo large at the top, a strip below with the event text, the score and
    kind, and the logo on the right. A BGR image of PAGE_PX at 300 dpi."""
    w, h = PAGE_PX
    page = np.full((h, w, 3), 255, np.uint8)
    strip = DPI * 2 // 3  # 2/3 in for the words
    area_w, area_h = w - 2 * MARGIN, h - 2 * MARGIN - strip
    ph, pw = photo_bgr.shape[:2]
    scale = min(area_w / pw, area_h / ph)
    size = (max(1, round(pw * scale)), max(1, round(ph * scale)))
    photo = cv2.resize(photo_bgr, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    x0, y0 = (w - size[0]) // 2, MARGIN
    page[y0:y0 + size[1], x0:x0 + size[0]] = photo
    words_w = w - 2 * MARGIN - (w // 4 if logo_bgr is not None else 0)
    top = y0 + size[1] + MARGIN // 2
    if event_text:
        top = _paste(page, text_image(event_text, 64, (40, 40, 40), words_w), (MARGIN, top)) + 10
    if caption:
        _paste(page, text_image(caption, 48, (90, 90, 90), words_w), (MARGIN, top))
    if logo_bgr is not None:
        lh, lw = logo_bgr.shape[:2]
        s = min((strip - 20) / lh, (w // 4) / lw)
        logo = cv2.resize(logo_bgr[..., :3], (max(1, round(lw * s)), max(1, round(lh * s))),
                          interpolation=cv2.INTER_AREA)
        ly = y0 + size[1] + (h - MARGIN - (y0 + size[1]) - logo.shape[0]) // 2
        page[ly:ly + logo.shape[0], w - MARGIN - logo.shape[1]:w - MARGIN] = logo
    return page


def text_image(text: str, px: int, colour: tuple[int, int, int], max_w: int) -> np.ndarray:
    """`text` in pygame's own font (every Latin letter and '·', which OpenCV's Hershey fonts
    cannot draw), in the BGR `colour` on white, as BGR, shrunk to fit `max_w`."""
    import pygame

    pygame.font.init()  # idempotent; SDL_ttf needs no display
    surf = pygame.font.Font(None, px).render(text, True, colour[::-1], (255, 255, 255))
    rgb = np.ascontiguousarray(np.transpose(pygame.surfarray.array3d(surf), (1, 0, 2)))
    if rgb.shape[1] > max_w:
        rgb = cv2.resize(rgb, (max_w, max(1, round(rgb.shape[0] * max_w / rgb.shape[1]))),
                         interpolation=cv2.INTER_AREA)
    return rgb[..., ::-1]


def _paste(page: np.ndarray, part: np.ndarray, at: tuple[int, int]) -> int:
    """Copy `part` onto `page` at (x, y), clipped to the page; returns the bottom edge."""
    x, y = at
    h = max(0, min(part.shape[0], page.shape[0] - y))
    wd = max(0, min(part.shape[1], page.shape[1] - x))
    page[y:y + h, x:x + wd] = part[:h, :wd]
    return y + h


# What can be wrong, as catalogue keys: the worker thread stores a key, the screen reads the words.
NOT_SET_UP, UNAVAILABLE = N_("print_not_set_up"), N_("print_unavailable")
OUT_OF_PAPER, PAUSED, OFFLINE = N_("print_out_of_paper"), N_("print_paused"), N_("print_offline")
UNREADABLE = N_("print_unreadable")
NO_QUEUE = (NOT_SET_UP, UNAVAILABLE)  # nothing can be handed to CUPS


def queue_problem(lpstat_out: str, returncode: int) -> str:
    """The catalogue key of what is wrong, from `lpstat -l -p PRINTER` (empty: all is well)."""
    text = lpstat_out.lower()
    if returncode != 0 or "invalid destination" in text or "unknown destination" in text:
        return NOT_SET_UP
    if "media-empty" in text or "media-needed" in text:
        return OUT_OF_PAPER
    if "disabled" in text or "paused" in text:
        return PAUSED
    if "offline" in text or "connecting-to-device" in text:
        return OFFLINE
    return ""


class Printer:
    """Prints photos on the named CUPS queue from one worker thread; `notice` says what is wrong."""

    def __init__(self, printer: str, *, event_text: str = "", logo: Path | None = None,
                 lp: str = "lp", lpstat: str = "lpstat") -> None:
        self.printer = printer
        self.event_text = event_text
        self.logo = cv2.imread(str(logo), cv2.IMREAD_COLOR) if logo else None
        self.lp, self.lpstat = shutil.which(lp) or lp, shutil.which(lpstat) or lpstat
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="printer")
        self._lock = threading.Lock()
        self._problem = ""
        self.jobs: list[str] = []  # CUPS job ids handed over (for the log and the tests)

    @classmethod
    def from_config(cls, config: Any) -> "Printer":
        b = config.booth
        return cls(b.printer, event_text=b.event_text, logo=Path(b.logo) if b.logo else None)

    @property
    def problem(self) -> str:
        """The catalogue key of what is wrong now (empty: nothing)."""
        with self._lock:
            return self._problem

    @property
    def notice(self) -> str:
        """What to tell the guest, in the mirror's language (empty: nothing)."""
        problem = self.problem
        return t(problem, printer=self.printer) if problem else ""

    def print_photo(self, photo: Path, caption: str) -> Future[str | None]:
        """Queue one print; the future gives the CUPS job id, or None (the notice says why)."""
        return self._worker.submit(self._print, Path(photo), caption)

    def check(self) -> Future[str]:
        """Read the queue's state from CUPS (off the display thread); gives the problem's key, and
        the notice follows it."""
        return self._worker.submit(self._check)

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _set(self, problem: str) -> None:
        with self._lock:
            self._problem = problem

    def _check(self) -> str:
        try:
            done = subprocess.run([self.lpstat, "-l", "-p", self.printer], capture_output=True, text=True,
                                  timeout=LP_TIMEOUT_S)
            problem = queue_problem(done.stdout + done.stderr, done.returncode)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("printer: lpstat failed (%s)", exc)
            problem = UNAVAILABLE
        self._set(problem)
        return problem

    def _print(self, photo: Path, caption: str) -> str | None:
        problem = self._check()
        if problem in NO_QUEUE:
            return None  # no such queue: nothing to hand over
        bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        if bgr is None:
            self._set(UNREADABLE)
            return None
        page = layout(bgr, caption, self.event_text, self.logo)
        fd, tmp = tempfile.mkstemp(prefix="smile-print-", suffix=".png")
        os.close(fd)
        try:
            cv2.imwrite(tmp, page)
            done = subprocess.run([self.lp, "-d", self.printer, "-t", photo.stem, "-o", "media=4x6",
                                   "-o", "fit-to-page", "-o", f"ppi={DPI}", tmp],
                                  capture_output=True, text=True, timeout=LP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("printer: lp failed (%s)", exc)
            self._set(UNAVAILABLE)
            return None
        finally:
            os.unlink(tmp)  # lp has copied the file into CUPS's spool
        if done.returncode != 0:
            log.warning("printer: lp refused the job: %s", done.stderr.strip())
            self._set(queue_problem(done.stderr, 1))
            return None
        job = done.stdout.split()[3] if len(done.stdout.split()) > 3 else done.stdout.strip()
        log.info("printer: %s sent to %s as %s", photo.name, self.printer, job)
        self.jobs.append(job)
        return job
