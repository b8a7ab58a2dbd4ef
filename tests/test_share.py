"""Share by QR code: the review screen's QR code, read back from the rendered pixels, opens the
photo on the real share server (waitress) started here; everything else is a plain 404."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.types import SmileKind, SmileReading
from kiosk.booth import BoothTrigger, BoothView, Phase, PhotoBooth
from kiosk.display import RecordingDisplay
from kiosk.modes.photobooth import BoothMode
from kiosk.photos import PhotoStore
from kiosk.render import Renderer
from kiosk.share import ShareApp, ShareServer, Sharing
from kiosk.share_tokens import TokenStore
from kiosk.view import Screen, View


class Clock:
    def __init__(self, t: float = 1.8e9) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def shared(tmp_path: Path, astronaut: np.ndarray):
    store = PhotoStore(tmp_path)
    reading = SmileReading(t_ms=0.0, score=87.0, kind=SmileKind.GENUINE, eye_engagement=70.0, box=(0, 0, 1, 1), raw_score=88.0)
    photo = store.save(astronaut, reading)
    (tmp_path / "secret.txt").write_text("never served")
    clock = Clock()
    tokens = TokenStore(tmp_path, hours=2.0, clock=clock)
    logo = tmp_path / "logo.png"
    cv2.imwrite(str(logo), np.full((60, 200, 3), (40, 120, 230), np.uint8))
    server = ShareServer(ShareApp(tokens, tmp_path / "photos", event_text="Ana & Ben's wedding", logo=logo,
                                  hours=2.0), host="127.0.0.1", port=0)
    sharing = Sharing(tokens, server)
    try:
        yield sharing, photo, clock
    finally:
        sharing.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)  # sent as written: no client-side normalising of ../ or %2e
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def read_qr(bgr: np.ndarray) -> tuple[str, np.ndarray | None]:
    """The QR code's text and corners. OpenCV's classic detector misses 2-5% of perfectly drawn
    codes (measured on 120 random share links); its ArUco-based one reads those."""
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        found, points = detector.detectAndDecode(bgr)[:2]
        if found:
            return found, points
    return "", None


def review_screen(photo_rgb: np.ndarray, url: str, size: tuple[int, int], tmp_path: Path) -> np.ndarray:
    display = RecordingDisplay(screen=size)
    booth = BoothView(Phase.REVIEW, photo=photo_rgb, caption="Smile Score 87  ·  Genuine smile", share_url=url,
                      print_offer=True)
    mode = BoothMode(PhotoBooth(BoothTrigger(), PhotoStore(tmp_path / "unused"), slideshow=False))
    Renderer(display.canvas).draw(View(Screen.REVIEW, photo_rgb, None, mode=booth), mode)
    display.save(tmp_path / f"review-{size[0]}x{size[1]}.png")
    return display.snapshot()


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)])
def test_the_qr_code_on_the_review_screen_gives_the_photos_exact_bytes(shared, astronaut: np.ndarray,
                                                                      tmp_path: Path, size) -> None:
    sharing, photo, _ = shared
    url = sharing.share(photo)
    img = review_screen(astronaut, url, size, tmp_path)
    found, _points = read_qr(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert found == url, "the QR code read from the rendered screen is the photo's link"
    assert url.startswith(f"http://127.0.0.1:{sharing.server.port}/p/")
    page = urllib.request.urlopen(url, timeout=10).read().decode()
    assert "Ana &amp; Ben&#x27;s wedding" in page and "Download photo" in page and 'download="' in page
    got = urllib.request.urlopen(url + "/photo.jpg", timeout=10).read()
    assert got == photo.read_bytes()
    status, logo = get(sharing.server.port, url.split(str(sharing.server.port))[1] + "/logo")
    assert status == 200 and logo == (photo.parent.parent / "logo.png").read_bytes()


def test_tokens_are_long_random_and_only_open_their_own_photo(shared) -> None:
    sharing, photo, _ = shared
    a, b = sharing.tokens.add(photo.name), sharing.tokens.add(photo.name)
    assert a != b and len(a) >= 22  # >= 128 bits in URL-safe base64
    assert sharing.tokens.lookup(a) == photo.name


@pytest.mark.parametrize("path", [
    "/", "/p/", "/p", "/photos/", "/photos", "/counters.json", "/../counters.json", "/p/../counters.json",
    "/%2e%2e/counters.json", "/%2E%2E%2Fcounters.json", "/..%2fsecret.txt", "/p/%2e%2e%2fsecret.txt",
    "/secret.txt", "/photos/{name}", "/{name}", "/p/{token}/../../secret.txt", "/p/{token}/%2e%2e/secret.txt",
    "/p/{token}/", "/p/{token}/photo.jpg/", "/p/{token}/../{name}", "/p/{token}x", "/p/{token}/photo.json",
    "/p/{token}/../../counters.json", "/p//{token}", "/p/{token}%00", "/p/AAAAAAAAAAAAAAAAAAAAAAAA",
    "/p/AAAAAAAAAAAAAAAAAAAAAAAA/photo.jpg",
])
def test_anything_else_is_a_plain_404(shared, path: str) -> None:
    sharing, photo, _ = shared
    token = sharing.tokens.add(photo.name)
    status, body = get(sharing.server.port, path.format(token=token, name=photo.name))
    assert status == 404 and body == b"Not found\n"


def test_a_link_expires_after_share_hours(shared) -> None:
    sharing, photo, clock = shared
    token = sharing.tokens.add(photo.name)
    assert get(sharing.server.port, f"/p/{token}/photo.jpg")[0] == 200
    clock.t += 2 * 3600 + 1
    assert get(sharing.server.port, f"/p/{token}/photo.jpg") == (404, b"Not found\n")
    assert get(sharing.server.port, f"/p/{token}") == (404, b"Not found\n")


def test_tokens_survive_a_restart_and_a_damaged_file_loses_only_the_links(tmp_path: Path) -> None:
    clock = Clock()
    token = TokenStore(tmp_path, hours=1.0, clock=clock).add("20261201-231500-123-s87.jpg")
    again = TokenStore(tmp_path, hours=1.0, clock=clock)
    assert again.lookup(token) == "20261201-231500-123-s87.jpg"
    assert not list(tmp_path.glob(".tmp-*")), "written atomically: no temporary file is left"
    assert oct((tmp_path / "share-tokens.json").stat().st_mode & 0o777) == "0o600"
    (tmp_path / "share-tokens.json").write_text("{not json")
    assert TokenStore(tmp_path, hours=1.0, clock=clock).lookup(token) is None
    with pytest.raises(ValueError):
        again.add("../counters.json")


def test_the_server_binds_only_to_the_configured_address(shared) -> None:
    sharing, _, _ = shared
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.2", sharing.server.port, timeout=3).connect()


def test_closing_with_a_phone_still_connected_stops_every_thread_cleanly(tmp_path: Path, astronaut: np.ndarray) -> None:
    """The kiosk stops the server at exit (and on a config reload) while guests' phones may hold
    keep-alive connections: no thread may die with a traceback, none may be left behind."""
    import threading

    before = set(threading.enumerate())
    errors: list[threading.ExceptHookArgs] = []
    old_hook, threading.excepthook = threading.excepthook, errors.append
    try:
        tokens = TokenStore(tmp_path, hours=1.0)
        photo = PhotoStore(tmp_path).save(astronaut, SmileReading(t_ms=0.0, score=80.0, kind=SmileKind.GENUINE,
                                                                  eye_engagement=60.0, box=(0, 0, 1, 1), raw_score=80.0))
        for _ in range(3):
            server = ShareServer(ShareApp(tokens, tmp_path / "photos"), host="127.0.0.1", port=0)
            phone = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            phone.request("GET", "/p/" + tokens.add(photo.name))  # HTTP/1.1: the connection stays open
            assert phone.getresponse().read()
            server.close()
            phone.close()
    finally:
        threading.excepthook = old_hook
    assert not errors, [f"{e.thread.name}: {e.exc_value!r}" for e in errors]
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not left, left


def test_sharing_from_the_booth_loop(tmp_path: Path, astronaut: np.ndarray) -> None:
    """The booth's saved photo gets its link on the review screen, made off the display thread."""
    from kiosk.takeaway import Takeaway
    from concurrent.futures import Future

    tokens = TokenStore(tmp_path, hours=1.0)
    sharing = Sharing(tokens, ShareServer(ShareApp(tokens, tmp_path / "photos"), host="127.0.0.1", port=0))
    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=5000), PhotoStore(tmp_path), slideshow=False)
    takeaway = Takeaway(sharing=sharing)

    class Camera:
        def request_still(self) -> Future:
            f: Future = Future()
            f.set_result(astronaut)
            return f

    smile = SmileReading(t_ms=0.0, score=90.0, kind=SmileKind.GENUINE, eye_engagement=70.0, box=(0, 0, 1, 1), raw_score=88.0)
    url = ""
    try:
        for i in range(400):
            view = takeaway.step(booth, booth.step(i * 10.0, smile, astronaut, Camera()), i * 10.0)
            url = view.share_url or url
            if url:
                break
            import time
            time.sleep(0.01)
        assert url, "the link appears during the review"
        assert urllib.request.urlopen(url + "/photo.jpg", timeout=10).read() == booth.saved[0].read_bytes()
    finally:
        booth.close()
        takeaway.close()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="needs headless Chromium (Debian package: chromium)")
def test_a_real_browser_shows_the_photo_page(shared, tmp_path: Path) -> None:
    sharing, photo, _ = shared
    url = sharing.share(photo)
    shot = tmp_path / "page.png"
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--no-first-run", f"--user-data-dir={profile}", "--hide-scrollbars",
                               "--window-size=412,915", f"--screenshot={shot}", url],
                              capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists(), done.stderr[-2000:]
    out = os.environ.get("SMILE_MIRROR_SCREENSHOTS")
    if out:
        shutil.copy(shot, Path(out) / "share-page.png")
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (915, 412)
    # the page's dark background, the photo (not dark) in the middle, the gold download button
    assert img[5, 5].mean() < 40
    assert img[150:510, 20:390].std() > 40, "the photo is shown (a picture, not a flat box)"
    gold = np.all(np.abs(img.astype(int) - (50, 182, 242)) < 30, axis=2)
    assert gold.sum() > 2000, "the Download button is there"


def test_the_booth_builds_its_takeaway_from_the_config(tmp_path: Path) -> None:
    from core.config import Config
    from core.errors import ConfigError

    base = Config().replace({"run.mode": "photobooth", "run.state_dir": str(tmp_path)})
    assert BoothMode.from_config(base).takeaway is None, "off by default: nothing listens, nothing prints"
    on = base.replace({"booth.share": True, "booth.share_port": 18777, "booth.event_text": "Gala"})
    mode = BoothMode.from_config(on)
    try:
        assert mode.takeaway is not None and mode.takeaway.sharing.server.port == 18777
        assert get(18777, "/") == (404, b"Not found\n")
    finally:
        mode.close()
    with pytest.raises(ConfigError, match="booth.printer"):
        BoothMode.from_config(base.replace({"booth.print": "auto"}))
    with pytest.raises(ConfigError):
        base.replace({"booth.print": "sometimes"})


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (1080, 1920)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_review_screen_keeps_every_word_whole_and_apart(astronaut: np.ndarray, tmp_path: Path,
                                                            language: str, size) -> None:
    """QR code, its line, the Print pill, the caption and a printer notice, in every shipped
    language: each line readable and on the screen, no two texts on each other, none on the QR."""
    from kiosk.text import Catalogue, t, use
    from tests.test_screens import assert_readable

    before = use(Catalogue(language))
    try:
        url = "http://10.42.0.1:8080/p/" + "Ab3_" * 6
        booth = BoothView(Phase.REVIEW, photo=astronaut, share_url=url, print_offer=True,
                          caption=t("booth_caption", score=87, kind=t("kind_genuine")), notice=t("print_out_of_paper"))
        mode = BoothMode(PhotoBooth(BoothTrigger(), PhotoStore(tmp_path / "unused"), slideshow=False))
        display = RecordingDisplay(screen=size)
        renderer = Renderer(display.canvas)
        renderer.draw(View(Screen.REVIEW, astronaut, None, mode=booth), mode)
        display.save(tmp_path / f"review-{language}-{size[0]}x{size[1]}.png")
        drawn = [d for d in renderer.painter.drawn if d.role != "operator"]
        assert_readable("review", drawn, renderer.painter, size)
        sources = [booth.caption, t("booth_share_scan"), t("booth_print"), booth.notice]
        # lines of one paragraph belong together; any other text (the booth's hint line) stands alone
        owner = {id(d): next((i for i, s in enumerate(sources) if d.text in s), len(sources) + n)
                 for n, d in enumerate(drawn)}
        for a in drawn:
            for b in drawn:
                if owner[id(a)] < owner[id(b)]:
                    shrink = lambda r: r.inflate(-2, -round(r.height * 0.2))  # noqa: E731 (glyph boxes, not line boxes)
                    assert not shrink(a.rect).colliderect(shrink(b.rect)), f"{a.text!r} on {b.text!r}"
        img = cv2.cvtColor(display.snapshot(), cv2.COLOR_RGB2BGR)
        found, points = read_qr(img)
        assert found == url
        xs, ys = points.reshape(-1, 2)[:, 0], points.reshape(-1, 2)[:, 1]
        qr = (xs.min(), ys.min(), xs.max(), ys.max())
        for d in drawn:
            r = d.rect.inflate(0, -round(d.rect.height * 0.2))
            assert r.right <= qr[0] or r.left >= qr[2] or r.bottom <= qr[1] or r.top >= qr[3], f"{d.text!r} on the QR"
    finally:
        use(before)


def test_the_photo_page_speaks_the_mirrors_language(shared) -> None:
    from kiosk.text import Catalogue, use

    sharing, photo, _ = shared
    url = sharing.share(photo)
    before = use(Catalogue("de"))
    try:
        page = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        use(before)
    assert '<html lang="de">' in page and "Foto herunterladen" in page and "2 Stunden" in page
