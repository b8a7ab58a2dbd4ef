"""Prints through a real CUPS daemon with the cups-pdf virtual printer, started here in a
temporary folder: the PDF that comes out holds the 4x6 in, 300 dpi layout; a stopped queue
gives a calm notice and the booth goes on."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.types import SmileKind, SmileReading
from kiosk.booth import BoothTrigger, PhotoBooth
from kiosk.photos import PhotoStore
from kiosk.printing import PAGE_PX, Printer, layout, queue_problem, text_image
from kiosk.takeaway import Takeaway

CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
QUEUE = "smiletest"

needs_cups = pytest.mark.skipif(
    not (shutil.which("cupsd") and shutil.which("lp") and CUPS_PDF_PPD.exists() and shutil.which("pdfimages")
         and os.geteuid() == 0),
    reason="needs root and the Debian packages cups, cups-client, printer-driver-cups-pdf and poppler-utils")


@pytest.fixture(scope="module")
def cups(tmp_path_factory: pytest.TempPathFactory):
    """cupsd -f with its own config, spool, logs and socket (the system's CUPS is left alone);
    one cups-pdf queue. cups-pdf itself writes to ~/PDF of the job's user (its
    /etc/cups/cups-pdf.conf), from where the tests collect and remove their own files."""
    d = Path(tempfile.mkdtemp(prefix="cups-"))
    d.chmod(0o755)
    for sub in ("spool/tmp", "cache", "state", "log", "ppd"):
        (d / sub).mkdir(parents=True)
    shutil.chown(d / "spool", "root", "lp")
    (d / "spool").chmod(0o770)
    shutil.chown(d / "spool/tmp", "root", "lp")
    (d / "spool/tmp").chmod(0o1770)
    sock = d / "cups.sock"
    (d / "cupsd.conf").write_text(f"Listen {sock}\nLogLevel warn\n<Location />\nOrder allow,deny\nAllow all\n"
                                  "</Location>\n<Location /admin>\nOrder allow,deny\nAllow all\n</Location>\n")
    (d / "cups-files.conf").write_text(
        f"ServerRoot {d}\nRequestRoot {d}/spool\nTempDir {d}/spool/tmp\nCacheDir {d}/cache\nStateDir {d}/state\n"
        f"ErrorLog {d}/log/error_log\nAccessLog {d}/log/access_log\nPageLog {d}/log/page_log\n"
        "SystemGroup root\nUser lp\nGroup lp\n")
    daemon = subprocess.Popen(["cupsd", "-f", "-c", str(d / "cupsd.conf"), "-s", str(d / "cups-files.conf")])
    env = {**os.environ, "CUPS_SERVER": str(sock)}
    try:
        for _ in range(100):
            if sock.exists() and subprocess.run(["lpstat", "-r"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(["lpadmin", "-p", QUEUE, "-E", "-v", "cups-pdf:/", "-P", str(CUPS_PDF_PPD)], env=env,
                       check=True, capture_output=True, timeout=30)
        yield env
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
        shutil.rmtree(d, ignore_errors=True)


def pdf_out(title: str, timeout_s: float = 60.0) -> Path:
    out = Path(pwd.getpwuid(os.geteuid()).pw_dir) / "PDF"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(out.glob(f"{title}*.pdf")) if out.exists() else []
        if found and found[0].stat().st_size > 0:
            time.sleep(0.5)  # cups-pdf writes, then closes
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no PDF for {title} in {out}")


class Camera:
    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb

    def request_still(self) -> Future:
        f: Future = Future()
        f.set_result(self.rgb)
        return f


SMILE = SmileReading(t_ms=0.0, score=91.0, kind=SmileKind.GENUINE, eye_engagement=70.0, box=(0, 0, 1, 1),
                     raw_score=91.0)


def run_booth(booth: PhotoBooth, takeaway: Takeaway, rgb: np.ndarray, steps: int = 300) -> list[float]:
    """The booth loop as the display thread runs it; returns each step's duration."""
    took = []
    for i in range(steps):
        t0 = time.perf_counter()
        takeaway.step(booth, booth.step(i * 10.0, SMILE, rgb, Camera(rgb)), i * 10.0)
        took.append(time.perf_counter() - t0)
        time.sleep(0.005)
    return took


def test_the_layout_is_4x6_inches_at_300_dpi(astronaut: np.ndarray) -> None:
    page = layout(cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR), "Smile Score 91 · Genuine smile", "Ana & Ben")
    assert page.shape[:2] == (PAGE_PX[1], PAGE_PX[0]) == (1200, 1800)
    assert page[5, 5].tolist() == [255, 255, 255] and page[300, 900].std() >= 0


def test_the_print_draws_every_letter_of_the_caption() -> None:
    """OpenCV's Hershey fonts draw '·', 'ä' and 'é' as '?': the print's words must not."""
    def ink(text: str) -> np.ndarray:
        return text_image(text, 48, (0, 0, 0), 1600) < 128

    question = ink("?")
    for word in ("·", "ä", "é", "ñ"):
        shape = ink(word)
        same = shape.shape == question.shape and np.array_equal(shape, question)
        assert shape.any() and not same, f"{word!r} is not drawn as itself"
    caption = ink("Lächel-Wert 91  ·  Echtes Lächeln")
    assert caption.shape[1] > ink("Lächel-Wert 91").shape[1] > 0


def test_queue_states_from_cups_words() -> None:
    assert queue_problem("printer x is idle.  enabled since", 0) == ""
    assert queue_problem("printer x is idle.\n\tAlerts: media-empty-error", 0) == "print_out_of_paper"
    assert queue_problem("printer x disabled since Tue -\n\tpaused", 0) == "print_paused"
    assert queue_problem('lpstat: Invalid destination name in list "x".', 1) == "print_not_set_up"


def test_the_notice_is_in_the_mirrors_language() -> None:
    from kiosk.text import Catalogue, use

    printer = Printer("booth-printer")
    printer._set("print_not_set_up")
    before = use(Catalogue("de"))
    try:
        assert printer.notice == "Drucker booth-printer ist nicht eingerichtet: frag bitte das Team"
    finally:
        use(before)
        printer.close()
    assert printer.notice == "Printer booth-printer is not set up: ask the host"


@needs_cups
def test_auto_mode_prints_the_layout_through_cups_pdf(cups, monkeypatch, tmp_path: Path,
                                                      astronaut: np.ndarray) -> None:
    monkeypatch.setenv("CUPS_SERVER", cups["CUPS_SERVER"])
    logo = tmp_path / "logo.png"
    cv2.imwrite(str(logo), np.full((80, 240, 3), (40, 120, 230), np.uint8))
    printer = Printer(QUEUE, event_text="Ana & Ben's wedding", logo=logo)
    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=2000), PhotoStore(tmp_path), slideshow=False)
    takeaway = Takeaway(printer=printer, print_mode="auto")
    pdf = None
    try:
        run_booth(booth, takeaway, astronaut, steps=150)
        assert len(booth.saved) == 1
        photo = booth.saved[0]
        for _ in range(200):
            if printer.jobs:
                break
            time.sleep(0.1)
        assert printer.jobs, f"no job sent; notice: {printer.notice!r}"
        pdf = pdf_out(photo.stem)
        subprocess.run(["pdfimages", "-png", str(pdf), str(tmp_path / "img")], check=True, timeout=60)
        listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout
        assert " 300 " in listing, listing
        got = cv2.imread(str(tmp_path / "img-000.png"))
        want = layout(cv2.imread(str(photo)), "Smile Score 91  ·  Genuine smile", "Ana & Ben's wedding",
                      cv2.imread(str(logo)))
        assert got.shape == want.shape == (1200, 1800, 3)
        diff = np.abs(got.astype(int) - want.astype(int)).mean()
        assert diff < 6, f"the printed image differs from the layout by {diff:.1f} on average"
    finally:
        booth.close()
        takeaway.close()
        if pdf is not None:
            pdf.unlink(missing_ok=True)


@needs_cups
def test_a_stopped_queue_shows_a_calm_notice_and_the_booth_goes_on(cups, monkeypatch, tmp_path: Path,
                                                                    astronaut: np.ndarray) -> None:
    monkeypatch.setenv("CUPS_SERVER", cups["CUPS_SERVER"])
    subprocess.run(["cupsdisable", QUEUE], env=cups, check=True, timeout=30)
    printer = Printer(QUEUE)
    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=1500), PhotoStore(tmp_path), slideshow=False)
    takeaway = Takeaway(printer=printer, print_mode="auto")
    try:
        took = run_booth(booth, takeaway, astronaut, steps=150)
        for _ in range(100):
            if printer.jobs:
                break
            time.sleep(0.1)
        assert printer.jobs, "CUPS keeps the job in the stopped queue: nothing is lost"
        assert "paused" in printer.notice
        view = takeaway.step(booth, booth.step(20000.0, None, astronaut, Camera(astronaut)), 20000.0)
        assert "printer is paused" in view.notice.lower()
        assert max(took) < 0.25, "the display thread never waits for CUPS"
        queued = subprocess.run(["lpstat", "-o", QUEUE], env=cups, capture_output=True, text=True).stdout
        assert QUEUE in queued
        assert Printer("no-such-printer").check().result(timeout=30) == "print_not_set_up"
    finally:
        subprocess.run(["cancel", "-a", QUEUE], env=cups, timeout=30)
        subprocess.run(["cupsenable", QUEUE], env=cups, timeout=30)
        booth.close()
        takeaway.close()


@needs_cups
def test_ask_mode_prints_on_the_gpio_button_once(cups, monkeypatch, tmp_path: Path, astronaut: np.ndarray) -> None:
    from gpiozero.pins.mock import MockFactory

    from kiosk.buttons import BoothButtons

    monkeypatch.setenv("CUPS_SERVER", cups["CUPS_SERVER"])
    factory = MockFactory()
    buttons = BoothButtons(print_pin=17, pin_factory=factory)
    printer = Printer(QUEUE)
    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=60_000, settle_ms=0), PhotoStore(tmp_path), slideshow=False)
    takeaway = Takeaway(printer=printer, print_mode="ask", buttons=buttons)
    pdf = None
    try:
        run_booth(booth, takeaway, astronaut, steps=60)
        assert booth.saved and not printer.jobs, "ask mode waits for a press"
        view = takeaway.step(booth, booth.step(700.0, SMILE, astronaut, Camera(astronaut)), 700.0)
        assert view.print_offer
        factory.pin(17).drive_low()  # the arcade button closes to ground
        time.sleep(0.1)
        factory.pin(17).drive_high()
        view = takeaway.step(booth, booth.step(710.0, SMILE, astronaut, Camera(astronaut)), 710.0)
        assert not view.print_offer
        takeaway.pressed()  # a tap after that: still one print of this photo
        takeaway.step(booth, booth.step(720.0, SMILE, astronaut, Camera(astronaut)), 720.0)
        for _ in range(200):
            if printer.jobs:
                break
            time.sleep(0.1)
        pdf = pdf_out(booth.saved[0].stem)
        assert len(printer.jobs) == 1
    finally:
        booth.close()
        takeaway.close()
        factory.reset()
        if pdf is not None:
            pdf.unlink(missing_ok=True)
