"""Photo booth mode end to end: recorded smiles through the real landmarker take real photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import cv2
import numpy as np
import pygame
import pytest

from core.landmarker import MediapipeLandmarker
from core.sources import VideoFileSource
from core.sources.demo import DemoSource
from core.types import SmileKind, SmileReading
from kiosk.app import App
from kiosk.booth import BoothTrigger, PhotoBooth
from kiosk.display import RecordingDisplay
from kiosk.photos import PhotoNotSaved, PhotoStore
from kiosk.modes.photobooth import BoothMode
from kiosk.paint import SHADE
from kiosk.render import Renderer
from kiosk.view import Screen, View
from tests.conftest import load_rgb, write_video


@pytest.fixture(scope="module")
def two_smiles_video(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """A smiling face for 1.5 s, nobody for 1.5 s, the smile again for 1.5 s, nobody for 1 s."""
    demo = DemoSource(size=(640, 480), fps=30, pace=False, cache=model_cache)
    smile = [demo.read().rgb for _ in range(45)]
    empty = [cv2.resize(load_rgb(model_cache / "chelsea.png"), (640, 480))]
    return write_video(tmp_path_factory.mktemp("booth") / "two_smiles.avi", smile + empty * 45 + smile + empty * 30)


def booth_for(state: Path, **kw) -> PhotoBooth:
    trigger = BoothTrigger(hold_ms=400, review_ms=1000, cooldown_ms=300, **kw)
    return PhotoBooth(trigger, PhotoStore(state), slideshow=False)


def run_app(video: Path, model_path: Path, booth: PhotoBooth, display=None) -> App:
    app = App(open_source=lambda: VideoFileSource(video, pace=False), landmarker=MediapipeLandmarker(model_path),
              display=display or RecordingDisplay(screen=(640, 480)), mode=BoothMode(booth))
    app.run()
    return app


def test_two_smiles_give_exactly_two_photos_with_metadata(two_smiles_video: Path, model_path: Path,
                                                        tmp_path: Path) -> None:
    booth = booth_for(tmp_path)
    run_app(two_smiles_video, model_path, booth)
    photos = sorted((tmp_path / "photos").glob("*.jpg"))
    assert len(photos) == 2 and booth.saved == photos
    assert photos[0].name < photos[1].name  # names sort by time
    for photo in photos:
        meta = json.loads(photo.with_suffix(".json").read_text())
        assert meta["score"] >= 65 and meta["kind"] in ("genuine", "posed") and 0 <= meta["eye_engagement"] <= 100
        assert "T" in meta["time"] and (meta["width"], meta["height"]) == (640, 480)
        image = cv2.imread(str(photo))
        assert image.shape == (480, 640, 3), "the video's full-resolution frame, not the inference frame"
    counters = json.loads((tmp_path / "counters.json").read_text())
    assert counters["photos_taken"] == 2 and counters["smiles_seen"] == 2 and counters["best_score_today"] >= 65


def test_genuine_only_mode_waits_for_eye_engagement(two_smiles_video: Path, model_path: Path, tmp_path: Path) -> None:
    readings = tmp_path / "readings.jsonl"
    booth = booth_for(tmp_path, require_genuine=True)
    with open(readings, "w") as out:
        App(open_source=lambda: VideoFileSource(two_smiles_video, pace=False),
            landmarker=MediapipeLandmarker(model_path), display=RecordingDisplay(screen=(640, 480)), mode=BoothMode(booth),
            readings=out).run()
    kinds = [json.loads(line)["kind"] for line in readings.read_text().splitlines()]
    sidecars = [json.loads(p.read_text())["kind"] for p in (tmp_path / "photos").glob("*.json")]
    assert set(sidecars) <= {"genuine"}, "a posed smile never triggers genuine-only mode"
    if "genuine" not in kinds:
        assert sidecars == []


def test_no_face_gives_no_photo(model_path: Path, model_cache: Path, tmp_path: Path) -> None:
    cat = cv2.resize(load_rgb(model_cache / "chelsea.png"), (640, 480))
    video = write_video(tmp_path / "cat.avi", [cat] * 60)
    booth = booth_for(tmp_path)
    run_app(video, model_path, booth)
    assert list((tmp_path / "photos").glob("*.jpg")) == []


def test_neutral_faces_give_no_photo(model_path: Path, tmp_path: Path) -> None:
    from tests.conftest import shared_data

    data = shared_data()
    if data is None:
        pytest.skip("../shared/data (GENKI-4K dev photos) is not here")
    rows = [line.split(",") for line in (data / "genki4k-dev" / "labels.csv").read_text().splitlines()[1:]]
    neutral = [data / "genki4k-dev" / r[0] for r in rows if r[1] == "neutral"][:6]
    frames = []
    for path in neutral:
        face = cv2.resize(load_rgb(path), (360, 384))
        canvas = np.full((480, 640, 3), 128, np.uint8)
        canvas[48:432, 140:500] = face
        frames += [canvas] * 20
    video = write_video(tmp_path / "neutral.avi", frames)
    booth = booth_for(tmp_path)
    run_app(video, model_path, booth)
    assert list((tmp_path / "photos").glob("*.jpg")) == []


def test_a_full_disk_shows_a_notice_and_the_mirror_carries_on(two_smiles_video: Path, model_path: Path,
                                                              tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, min_free_mb=1e12)  # no disk has a petabyte free: always "full"
    booth = PhotoBooth(BoothTrigger(hold_ms=400, review_ms=1000, cooldown_ms=300), store, slideshow=False)
    app = run_app(two_smiles_video, model_path, booth)
    assert app.stats.displayed >= 135 and app.stats.loop_errors == 0  # every frame shown (plus animation)
    assert booth.failures == 2 and booth.saved == []
    assert list((tmp_path / "photos").iterdir()) == []
    assert booth._notice == "Photo not saved: the disk is full"


def test_nothing_is_overwritten_and_the_quota_prunes_the_oldest(tmp_path: Path) -> None:
    import datetime as dt

    store = PhotoStore(tmp_path)
    when = dt.datetime(2026, 11, 25, 12, 0, 0).astimezone()
    reading = SmileReading(t_ms=0, score=88, kind=SmileKind.GENUINE, eye_engagement=70, box=(0, 0, 1, 1), raw_score=88)
    rng = np.random.default_rng(0)
    paths = [store.save(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), reading, when) for _ in range(3)]
    assert len(set(paths)) == 3, "the same second gives three names, none overwritten"
    assert [p.name for p in paths] == ["20261125-120000-000-s88.jpg", "20261125-120000-001-s88.jpg",
                                       "20261125-120000-002-s88.jpg"]
    sizes = [p.stat().st_size + p.with_suffix(".json").stat().st_size for p in paths]
    quota_mb = (sizes[1] + sizes[2]) * 1.5 / 1e6  # room for about two more photos of this size
    store.close()  # one writer per state folder: the next start takes it over
    store = PhotoStore(tmp_path, quota_mb=quota_mb)
    newest = store.save(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), reading, when + dt.timedelta(seconds=1))
    remaining = store.photos()
    assert remaining == [paths[2], newest], "the oldest go first, the newest stays"
    assert not paths[0].with_suffix(".json").exists(), "sidecars go with their photos"
    assert not list(tmp_path.glob("photos/.tmp-*")), "no temporary files are left behind"


def test_a_really_full_filesystem(tmp_path: Path) -> None:
    """A real ENOSPC on a tiny tmpfs (root only): the error is the calm sentence, nothing partial."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    store = None
    try:
        store = PhotoStore(mount, min_free_mb=0)
        noise = np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8)  # ~400 kB as JPEG
        with pytest.raises(PhotoNotSaved, match="the disk is full"):
            store.save(noise, None)
        assert list((mount / "photos").iterdir()) == []
    finally:
        if store is not None:
            store.close()  # it holds the folder's lock file open: the mount stays busy until then
        subprocess.run(["umount", str(mount)], check=True)


def test_review_screen_renders(astronaut: np.ndarray, tmp_path: Path) -> None:
    from kiosk.booth import BoothView, Phase

    display = RecordingDisplay(screen=(640, 360))
    view = View(Screen.REVIEW, astronaut, None, mode=BoothView(Phase.REVIEW, photo=astronaut, notice="Photo saved",
                                                              caption="Smile Score 87  ·  Genuine smile"))
    Renderer(display.canvas).draw(view, BoothMode(PhotoBooth(BoothTrigger(), PhotoStore(tmp_path), slideshow=False)))
    display.save(tmp_path / "review.png")
    img = display.snapshot()
    # the whole photo is shown, letterboxed, unmirrored: the flag is on the left of the portrait
    assert img[5, 20].tolist() == list(SHADE) and img[5, 620].tolist() == list(SHADE)
    flag = img[120:200, 145:190].reshape(-1, 3).mean(axis=0)
    assert flag[0] > flag[2] + 40, "the red stripes of the flag at the photo's left"
    assert img[100, 470].mean() > 150, "the light studio backdrop at the photo's right"


def test_photobooth_on_the_command_line(two_smiles_video: Path, model_cache: Path, tmp_path: Path) -> None:
    config = tmp_path / "booth.toml"
    config.write_text("[booth]\nreview_s = 1.0\ncooldown_s = 0.3\ncountdown = 0\n")  # 1.5 s smiles: no time to count
    env = {**os.environ, "SMILE_MIRROR_CACHE": str(model_cache)}
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--config", str(config), "--mode", "photobooth",
                           "--state-dir", str(tmp_path / "state"), "--source", f"video:{two_smiles_video}",
                           "--no-pace", "--display", "headless"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "state" / "photos").glob("*.jpg"))) == 2
    assert "photo saved" in done.stderr


class SlowCamera:
    """A still camera whose still arrives when the test says so (as the capture thread's does)."""

    def __init__(self) -> None:
        self.asked: list[Future] = []

    def request_still(self) -> Future:
        self.asked.append(Future())
        return self.asked[-1]

    def deliver(self, image: np.ndarray | None) -> bool:
        """Answer the latest request, as the capture thread would; False if it was cancelled."""
        future = self.asked[-1]
        if not future.set_running_or_notify_cancel():
            return False
        future.set_result(image)
        return True


def test_the_previous_photo_is_never_shown_for_a_new_shot(tmp_path: Path) -> None:
    from kiosk.booth import Phase

    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=1000, cooldown_ms=0, settle_ms=0), PhotoStore(tmp_path),
                       slideshow=False)
    camera, smile = SlowCamera(), SmileReading(t_ms=0, score=90, kind=SmileKind.GENUINE, eye_engagement=70,
                                               box=(0, 0, 1, 1), raw_score=90)
    first, second = np.full((48, 64, 3), 10, np.uint8), np.full((48, 64, 3), 200, np.uint8)
    t = 0.0
    view = booth.step(t, smile, first, camera)
    assert camera.deliver(first)
    view = booth.step(t := t + 33, smile, first, camera)
    assert view.photo is first
    while view.phase is not Phase.ARMED:  # review, cooldown, then a new smile is needed
        view = booth.step(t := t + 33, None, first, camera)
    booth.step(t := t + 33, smile, second, camera)  # shot two: its still is slow to come
    view = booth.step(t := t + 33, smile, second, camera)
    assert view.photo is None, "while the new still is on its way, the old photo stays hidden"
    assert camera.deliver(second)
    view = booth.step(t := t + 500, smile, second, camera)
    assert view.photo is second and view.phase is Phase.REVIEW
    view = booth.step(t := t + 900, smile, second, camera)
    assert view.phase is Phase.REVIEW, "the review lasts its full time from the photo's arrival"
    booth.close(camera)


def test_a_still_that_comes_too_late_is_dropped_and_the_preview_kept(tmp_path: Path) -> None:
    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=5000, cooldown_ms=0, settle_ms=0), PhotoStore(tmp_path),
                       slideshow=False)
    camera, smile = SlowCamera(), SmileReading(t_ms=0, score=90, kind=SmileKind.GENUINE, eye_engagement=70,
                                               box=(0, 0, 1, 1), raw_score=90)
    preview, late = np.full((48, 64, 3), 10, np.uint8), np.full((48, 64, 3), 200, np.uint8)
    view = booth.step(0.0, smile, preview, camera)
    assert view.photo is None and len(camera.asked) == 1
    view = booth.step(PhotoBooth.STILL_TIMEOUT_MS + 1, smile, preview, camera)
    assert view.photo is preview, "past the timeout the preview frame is the photo"
    assert camera.asked[0].cancelled() and not camera.deliver(late), "the late still is refused"
    view = booth.step(PhotoBooth.STILL_TIMEOUT_MS + 100, smile, preview, camera)
    assert view.photo is preview
    booth.close()
    assert len(booth.saved) == 1 and cv2.imread(str(booth.saved[0]))[0, 0].tolist() == [10, 10, 10]


def test_the_slideshow_reads_the_disk_once_per_slide(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    calls = []
    original = store.photos
    store.photos = lambda: calls.append(1) or original()  # type: ignore[method-assign]
    booth = PhotoBooth(BoothTrigger(), store, slideshow=True)
    for i in range(150):  # 5 s of attract screen at 30 fps, no photos yet
        booth.slide(i * 33.0)
    booth.close(SlowCamera())
    assert len(calls) <= 2


@pytest.fixture(scope="module")
def long_smile_video(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """The demo face smiling for 6 s, then nobody for 1 s."""
    demo = DemoSource(size=(640, 480), fps=30, pace=False, cache=model_cache)
    smile = [demo.read().rgb for _ in range(180)]
    empty = [cv2.resize(load_rgb(model_cache / "chelsea.png"), (640, 480))] * 30
    return write_video(tmp_path_factory.mktemp("booth") / "long_smile.avi", smile + empty)


def test_the_default_booth_counts_down_before_the_photo(long_smile_video: Path, model_path: Path,
                                                        tmp_path: Path) -> None:
    """With the shipped config the guest sees 3, 2, 1 first; the photo is never taken in the
    first moments after the model loads."""
    from core.config import Config
    from kiosk.booth import Phase

    seen: list[tuple[float, object, bool]] = []

    class Watched(BoothTrigger):
        def step(self, now_ms, reading):
            status = BoothTrigger.step(self, now_ms, reading)
            seen.append((now_ms, status, reading is not None))
            return status

    b = Config().booth
    trigger = Watched(sensitivity=b.sensitivity, require_genuine=b.genuine_only, hold_ms=b.hold_ms,
                      countdown_s=b.countdown, review_ms=b.review_s * 1000, cooldown_ms=b.cooldown_s * 1000)
    booth = PhotoBooth(trigger, PhotoStore(tmp_path), slideshow=False)
    run_app(long_smile_video, model_path, booth)
    assert len(booth.saved) == 1
    first_face = next(t for t, _, face in seen if face)
    counts = [s.countdown for _, s, _ in seen if s.phase is Phase.COUNTDOWN]
    assert [c for i, c in enumerate(counts) if i == 0 or counts[i - 1] != c] == [3, 2, 1]
    shot = next(t for t, s, _ in seen if s.shoot)
    built = next(t for t, s, _ in seen if s.phase is Phase.BUILDING)
    assert built - first_face >= trigger.settle_ms, "the first readings of a newcomer never start a photo"
    assert shot - first_face >= trigger.settle_ms + b.hold_ms + 3000 - 40


def test_a_notice_ends_with_its_review(tmp_path: Path) -> None:
    """"Photo saved" belongs to the review of that photo: gone the moment the live mirror is back."""
    from kiosk.booth import Phase

    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=4000, cooldown_ms=3000, settle_ms=0), PhotoStore(tmp_path),
                       slideshow=False)
    camera = SlowCamera()
    smile = SmileReading(t_ms=0, score=90, kind=SmileKind.GENUINE, eye_engagement=70, box=(0, 0, 1, 1), raw_score=90)
    photo = np.full((48, 64, 3), 90, np.uint8)
    t, shown = 0.0, []
    booth.step(t, smile, photo, camera)
    camera.ready = (photo,)
    while t < 9000:
        t += 33
        view = booth.step(t, smile if t < 6000 else None, photo, camera)
        shown.append((t, view.phase, view.notice, view.rearm))
        if not booth.saved:
            for pending in list(booth._saving):
                pending.result()  # the writer thread is quick; wait so the test is exact
    booth.close(camera)
    noticed = [(t, phase) for t, phase, notice, _ in shown if notice == "Photo saved"]
    assert noticed and {phase for _, phase in noticed} == {Phase.REVIEW}
    end_of_review = next(t for t, phase, _, _ in shown if phase is not Phase.REVIEW and t > noticed[0][0])
    assert max(t for t, _ in noticed) < end_of_review
    assert all(rearm for t, phase, _, rearm in shown if phase is Phase.COOLDOWN and t < 6000), \
        "still smiling after the photo: the booth says it waits for the smile to end"


class GatedStore(PhotoStore):
    """A real store on a disk that is slow to answer: each save waits for the gate to open."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        import threading

        self.gate = threading.Event()

    def save(self, image, reading=None):
        self.gate.wait(30)
        return super().save(image, reading)


def test_every_photo_is_reported_saved_even_when_the_next_comes_first(tmp_path: Path) -> None:
    """A second shot before the first is on disk: both are kept and both are counted as saved."""
    from kiosk.booth import Phase

    store = GatedStore(tmp_path)
    booth = PhotoBooth(BoothTrigger(hold_ms=0, review_ms=300, cooldown_ms=0, settle_ms=0), store, slideshow=False)
    smile = SmileReading(t_ms=0, score=90, kind=SmileKind.GENUINE, eye_engagement=70, box=(0, 0, 1, 1), raw_score=90)
    frames = [np.full((48, 64, 3), v, np.uint8) for v in (10, 200)]
    camera, t, shots = SlowCamera(), 0.0, 0
    for frame in frames:
        booth.step(t := t + 33, smile, frame, camera)
        assert camera.deliver(frame)
        view = booth.step(t := t + 33, smile, frame, camera)
        while view.phase is not Phase.ARMED:
            view = booth.step(t := t + 33, None, frame, camera)
        shots += 1
    assert booth.saved == [], "nothing is on disk yet"
    store.gate.set()
    for _ in range(100):
        booth.step(t := t + 33, None, frames[-1], camera)
        if len(booth.saved) == 2:
            break
        time.sleep(0.02)
    booth.close(camera)
    assert shots == 2 and len(booth.saved) == 2, booth.saved
    assert sorted(cv2.imread(str(p))[0, 0, 0] for p in booth.saved) == [10, 200]
