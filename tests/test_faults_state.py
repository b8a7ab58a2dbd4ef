"""The second fault table, state files: nothing the kiosk counted or saved is lost to one bad
value, a second instance, a full disk or a killed writer. Real files, real tmpfs, real SIGKILL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core.safe_io import FolderBusy
from core.types import SmileKind, SmileReading
from kiosk.group_stats import FILENAME, GroupStats, export
from kiosk.photos import PhotoNotSaved, PhotoStore

REPO = Path(__file__).resolve().parents[1]
READING = SmileReading(t_ms=0, score=88, kind=SmileKind.GENUINE, eye_engagement=70, box=(0, 0, 1, 1), raw_score=88)
H1, H2, H3 = "2025-06-01T14:00+0200", "2025-06-01T15:00+0200", "2025-06-01T16:00+0200"


@pytest.fixture(autouse=True)
def _bounded():
    """Fail a test that runs for more than 120 s instead of hanging the suite."""
    def expire(*_):  # noqa: E306
        raise TimeoutError("test took more than 120 s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 120)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def noise(seed: int, size: int = 200) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)


def row(**counts: int | None) -> dict:
    base = dict.fromkeys(("visitors", "smiles", "links", "chains", "celebrations"), 1)
    base.update(counts)
    return base


# ---- group statistics -------------------------------------------------------------------------

def test_one_bad_row_in_group_stats_loses_that_value_not_the_file(tmp_path: Path) -> None:
    original = {"version": 1, "hours": {H1: row(visitors=3), H2: row(visitors=5), H3: row(visitors=None)}}
    (tmp_path / FILENAME).write_text(json.dumps(original))
    stats = GroupStats(tmp_path, hour=lambda: "2025-06-01T17:00+0200", clock=lambda: 0.0)
    assert stats.hours[H1]["visitors"] == 3 and stats.hours[H2]["visitors"] == 5
    assert stats.hours[H3]["visitors"] == 0 and stats.hours[H3]["smiles"] == 1, "only the bad value is lost"
    stats.count("smiles")
    stats.close()
    saved = {r["hour"]: r for r in json.loads(export(tmp_path, "json"))}
    assert saved[H1]["visitors"] == 3 and saved[H2]["visitors"] == 5 and saved[H3]["smiles"] == 1
    assert saved["2025-06-01T17:00+0200"]["smiles"] == 1
    assert json.loads((tmp_path / (FILENAME + ".damaged")).read_text()) == original, "the file as found is kept"


def test_a_bad_value_comes_back_from_the_last_good_copy(tmp_path: Path) -> None:
    clock = iter(range(0, 10**6, 100))
    stats = GroupStats(tmp_path, hour=lambda: H1, clock=lambda: next(clock), save_every_s=50)
    stats.count("visitors", 4)  # saved: the first good file
    stats.count("smiles", 2)    # saved again: the first becomes the last good copy
    stats.close()
    assert (tmp_path / (FILENAME + ".bak")).is_file()
    doc = json.loads((tmp_path / FILENAME).read_text())
    doc["hours"][H1]["visitors"] = "four"
    (tmp_path / FILENAME).write_text(json.dumps(doc))
    again = GroupStats(tmp_path, hour=lambda: H1, clock=lambda: 0.0)
    assert again.hours[H1]["visitors"] == 4 and again.hours[H1]["smiles"] == 2
    again.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "array"])
def test_an_unreadable_stats_file_is_replaced_by_its_last_good_copy(tmp_path: Path, damage: str) -> None:
    clock = iter(range(0, 10**6, 100))
    stats = GroupStats(tmp_path, hour=lambda: H1, clock=lambda: next(clock), save_every_s=50)
    stats.count("visitors", 7)
    stats.count("visitors", 1)
    stats.close()
    path = tmp_path / FILENAME
    text = path.read_text()
    path.write_text({"garbage": "\x00\xff{{{", "truncated": text[: len(text) // 2], "empty": "",
                     "array": "[1, 2]"}[damage])
    again = GroupStats(tmp_path, hour=lambda: H1, clock=lambda: 0.0)
    assert again.hours[H1]["visitors"] >= 7, "the last good copy, not zero"
    again.close()


# ---- counters ---------------------------------------------------------------------------------

def photos_kept(state: Path, quota_mb: float, n: int = 5) -> int:
    store = PhotoStore(state, quota_mb=quota_mb, min_free_mb=0)
    when = dt.datetime(2026, 11, 25, 12, 0, 0).astimezone()
    for i in range(n):
        store.save(noise(i), READING, when + dt.timedelta(seconds=i))
    store.close()
    return len(list((state / "photos").glob("*.jpg")))


def test_a_wrong_typed_counters_file_keeps_counting_and_pruning(tmp_path: Path) -> None:
    clean = photos_kept(tmp_path / "clean", quota_mb=0.1)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "counters.json").write_text('{"photos_taken": "12", "smiles_seen": 3}')
    store = PhotoStore(tmp_path / "bad", quota_mb=0.1, min_free_mb=0)
    assert store.counters.smiles_seen == 3, "the good field is kept"
    path = store.save(noise(9), READING)  # no PhotoNotSaved, no TypeError
    assert path.is_file() and path.with_suffix(".json").is_file()
    store.close()
    assert json.loads((tmp_path / "bad" / "counters.json").read_text())["photos_taken"] == 1
    assert photos_kept(tmp_path / "bad", quota_mb=0.1) == clean, "quota pruning still runs"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.floats(allow_nan=True),
                       st.integers(-10, 10**20), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
       key=st.sampled_from(["photos_taken", "smiles_seen", "best_score_today", "day", "extra"]))
def test_any_value_of_any_counter_never_stops_a_photo(tmp_path_factory, key: str, value) -> None:
    state = tmp_path_factory.mktemp("c")
    good = {"photos_taken": 5, "smiles_seen": 9, "best_score_today": 71.0, "day": "2026-11-25"}
    (state / "counters.json").write_text(json.dumps({**good, key: value}))
    store = PhotoStore(state, min_free_mb=0)
    store.save(noise(1, 64), READING)
    store.close()
    saved = json.loads((state / "counters.json").read_text())
    assert saved["photos_taken"] >= 1 and isinstance(saved["photos_taken"], int)
    for other in set(good) - {key, "best_score_today", "day", "photos_taken"}:
        assert saved[other] == good[other], "the other fields are kept"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_counters_file_restarts_from_its_last_good_copy(tmp_path: Path, damage: str) -> None:
    store = PhotoStore(tmp_path, min_free_mb=0)
    for i in range(3):
        store.save(noise(i, 64), READING)
    store.close()
    path = tmp_path / "counters.json"
    text = path.read_text()
    path.write_text({"garbage": "\x00{{", "truncated": text[: len(text) // 2], "empty": ""}[damage])
    again = PhotoStore(tmp_path, min_free_mb=0)
    assert again.counters.photos_taken >= 2, "the last good copy, not zero"
    again.close()
    assert (tmp_path / "counters.json.damaged").is_file(), "the damaged file is kept for a person to see"


# ---- one writer per state folder --------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from kiosk.photos import PhotoStore
    store = PhotoStore(sys.argv[1])
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_second_instance_on_one_state_folder_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        for make in (lambda: PhotoStore(tmp_path), lambda: GroupStats(tmp_path)):
            with pytest.raises(FolderBusy, match=rf"another Smile Mirror \(pid {holder.pid}\) is already using"):
                make()
        done = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--mode", "photobooth", "--source", "demo",
                               "--display", "headless", "--frames", "5", "--state-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=120, cwd=REPO,
                              env={**os.environ, "SDL_VIDEODRIVER": "dummy"})
        assert done.returncode == 2 and "already using the state folder" in done.stderr, done.stderr[-1500:]
        assert "Traceback" not in done.stderr
    finally:
        holder.kill()
        holder.wait()
    PhotoStore(tmp_path).close()  # the kernel dropped the dead holder's lock: no stale lock file


# ---- a photo and its sidecar are one -----------------------------------------------------------

def test_a_disk_that_fills_at_the_sidecar_keeps_neither_and_says_so(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        store = PhotoStore(mount, min_free_mb=0)
        image = noise(3, 120)
        import cv2

        jpeg = len(cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])[1])
        pages = -(-jpeg // 4096)
        free = os.statvfs(mount).f_bavail * 4096
        (mount / "filler").write_bytes(b"\0" * (free - pages * 4096))  # room for the JPEG, none for the sidecar
        assert os.statvfs(mount).f_bavail == pages
        with pytest.raises(PhotoNotSaved, match="the disk is full"):
            store.save(image, READING)
        assert list((mount / "photos").iterdir()) == [], "no photo without its sidecar, no temporary"
        assert store.counters.photos_taken == 0
        (mount / "filler").unlink()
        path = store.save(image, READING)
        assert path.is_file() and path.with_suffix(".json").is_file() and store.counters.photos_taken == 1
        store.close()
    finally:
        subprocess.run(["umount", str(mount)], check=False)


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from core.safe_io import write_temporary
    write_temporary(Path(sys.argv[1]) / "photos", os.urandom(2_100_000))  # a whole photo, not yet published
    write_temporary(Path(sys.argv[1]), b'{"photos_taken": 1')
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_temporaries_of_a_killed_writer_are_removed_at_start(tmp_path: Path) -> None:
    PhotoStore(tmp_path).close()
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=REPO, timeout=60)
    assert done.returncode == -signal.SIGKILL
    left = list(tmp_path.glob(".tmp-*")) + list(tmp_path.glob("photos/.tmp-*"))
    assert len(left) == 2
    PhotoStore(tmp_path).close()
    assert not list(tmp_path.glob(".tmp-*")) and not list(tmp_path.glob("photos/.tmp-*"))
