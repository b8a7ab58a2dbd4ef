"""The second fault table: what an attacker or a clumsy operator feeds the mirror, one case per
test. Each case says what must hold: no traceback, no hang (every test is bounded by a timeout),
no lost record, and for image bombs a ceiling on peak memory (measured in a child process).

Tables: data that must not be lost; hangs and memory; errors that must be sentences; supply
chain and privacy. State-file cases are in test_faults_state.py.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core import assets

REPO = Path(__file__).resolve().parents[1]
RSS_CEILING_MB = 300
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")


@pytest.fixture(autouse=True)
def _bounded():
    """Fail a test that runs for more than 240 s instead of hanging the suite (every child
    process also has its own timeout)."""
    def expire(*_):  # noqa: E306
        raise TimeoutError("test took more than 240 s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 240)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def env_for(cache: Path | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", **extra}
    if "SMILE_MIRROR_CONFIG" not in extra:
        env.pop("SMILE_MIRROR_CONFIG", None)
    if cache is not None:
        env["SMILE_MIRROR_CACHE"] = str(cache)
    return env


def cli(*args: str, timeout: float = 120, cache: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env_for(cache), cwd=REPO)


_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); "
         "sys.stdout.buffer.write(r.stdout); sys.stderr.buffer.write(r.stderr); "
         "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode, file=sys.stderr)")


def cli_peak(*args: str, timeout: float = 180) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI in a fresh child whose only child is the command: (result, peak RSS in MB)."""
    done = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "kiosk.cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env_for(), cwd=REPO)
    m = re.search(r"PEAK_RSS_KB (\d+) (-?\d+)", done.stderr)
    assert m, done.stderr[-2000:]
    done.returncode = int(m.group(2))
    return done, int(m.group(1)) / 1024


def no_traceback(done: subprocess.CompletedProcess) -> None:
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "unexpected error" not in text, text[-3000:]


def records(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# ---- bombs, made here --------------------------------------------------------------------------

def g4_tiff(path: Path, side: int = 30000) -> Path:
    """A CCITT G4 TIFF of side x side white pixels: 25 KB on disk, 2.7 GB once decoded to BGR."""
    from PIL import Image

    Image.new("1", (side, side), 1).save(path, compression="group4")
    return path


def gif(path: Path, side: int = 30000) -> Path:
    """A GIF whose screen and single frame are side x side (a few bytes of LZW data)."""
    data = b"GIF89a" + struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    data += b"," + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02\x02\x4c\x01\x00;"
    path.write_bytes(data)
    return path


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


# ---- hangs and memory -------------------------------------------------------------------------

@pytest.mark.model
@pytest.mark.parametrize("make", [g4_tiff, gif], ids=["g4-tiff-30000", "gif-30000"])
def test_an_image_bomb_is_refused_from_its_header_in_score(make, model_cache: Path, tmp_path: Path) -> None:
    bomb = make(tmp_path / f"bomb.{'tif' if make is g4_tiff else 'gif'}")
    good = tmp_path / "good.png"
    good.write_bytes((model_cache / assets.ASTRONAUT.filename).read_bytes())
    done, peak = cli_peak("score", str(bomb), str(good))
    no_traceback(done)
    out = records(done)
    assert "declares 30000x30000" in out[0]["error"], out
    assert out[1]["face"] is True, "the batch carries on"
    assert peak < RSS_CEILING_MB, f"peak RSS {peak:.0f} MB"


@pytest.mark.model
def test_image_bombs_in_an_images_source_are_skipped_in_bounded_memory(model_cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    g4_tiff(folder / "a.tif")
    gif(folder / "b.gif")
    (folder / "c.png").write_bytes((model_cache / assets.ASTRONAUT.filename).read_bytes())
    done, peak = cli_peak("run", "--source", f"images:{folder}/*", "--no-pace", "--display", "headless",
                          "--frames", "5")
    no_traceback(done)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("declares 30000x30000") == 2
    assert peak < RSS_CEILING_MB, f"peak RSS {peak:.0f} MB"


@pytest.mark.model
def test_a_huge_file_is_refused_before_it_is_read_and_a_large_one_is_read_once(model_cache: Path,
                                                                               tmp_path: Path) -> None:
    huge = sparse(tmp_path / "huge.png", 1 << 30)
    large = sparse(tmp_path / "large.png", 200 << 20)  # zeros: read in full, then not decodable
    small = tmp_path / "small.png"
    small.write_bytes((model_cache / assets.ASTRONAUT.filename).read_bytes())
    base, base_peak = cli_peak("score", str(small))
    done, peak = cli_peak("score", str(huge), str(large))
    no_traceback(done)
    out = records(done)
    assert "more than the" in out[0]["error"] and "not a readable image" in out[1]["error"], out
    assert peak - base_peak < 1.25 * 200, f"{peak:.0f} MB against {base_peak:.0f}: more than one copy of 200 MB"


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "1gb"])
def test_a_special_or_huge_config_file_is_one_sentence(make: str, tmp_path: Path) -> None:
    path = {"fifo": lambda: fifo(tmp_path / "config.toml"), "dev-zero": lambda: Path("/dev/zero"),
            "1gb": lambda: sparse(tmp_path / "config.toml", 1 << 30, b"[run]\n")}[make]()
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "kiosk.cli", "config", "check"],
                          capture_output=True, text=True, timeout=60, cwd=REPO,
                          env=env_for(SMILE_MIRROR_CONFIG=str(path)))
    no_traceback(done)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("PEAK_RSS_KB")]
    assert len(lines) == 1 and lines[0].startswith(f"smile-mirror: config file {path} cannot be read"), lines
    assert ("pipe" if make == "fifo" else "device" if make == "dev-zero" else "bytes, more than") in lines[0]
    assert time.monotonic() - t0 < 30
    peak = int(re.search(r"PEAK_RSS_KB (\d+)", done.stderr).group(1)) / 1024
    assert peak < 150, f"peak RSS {peak:.0f} MB for a config file"


@pytest.mark.model
def test_a_fifo_among_score_inputs_does_not_stop_the_batch(model_cache: Path, tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "photo.jpg")
    good = tmp_path / "good.png"
    good.write_bytes((model_cache / assets.ASTRONAUT.filename).read_bytes())
    done = cli("score", str(pipe), "/dev/zero", str(good), timeout=60)
    no_traceback(done)
    out = records(done)
    assert "pipe (FIFO)" in out[0]["error"] and "device" in out[1]["error"] and out[2]["face"] is True, out
    assert done.returncode == 3


@pytest.mark.model
@pytest.mark.parametrize("good", [False, True], ids=["only-a-1x1-image", "and-one-good-image"])
def test_a_looping_list_of_unreadable_files_warns_once_per_file(good: bool, model_cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(20):
        (folder / f"bad{i:02d}.jpg").write_bytes(b"not an image")
    cv2.imwrite(str(folder / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    if good:
        (folder / "zz.png").write_bytes((model_cache / assets.ASTRONAUT.filename).read_bytes())
    forged = "x\n2026-01-01 00:00:00,000 WARNING forged: this line was made by a file name.jpg"
    (folder / forged).write_bytes(b"nor this")
    done = cli("run", "--source", f"images:{folder}/*", "--no-pace", "--loop", "--display", "headless",
               "--frames", "300", timeout=120)
    no_traceback(done)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert sum("skipping" in line for line in lines) == 22, "each unusable file is said once"
    assert len(lines) < 100, f"{len(lines)} lines of log"
    assert not any(line.startswith("2026-01-01 00:00:00,000 WARNING forged") for line in lines), \
        "a newline in a file name cannot start a log line"
    assert any("x\\n2026-01-01" in line for line in lines), "the name is shown, escaped"
    if not good:
        assert "too small to show" in done.stderr, "a 1x1 image is not a frame: the list ends"


# ---- errors that are sentences ----------------------------------------------------------------

@pytest.mark.model
@pytest.mark.parametrize("text, words", [
    ("[booth]\nquota_mb = 1e308\n", "booth.quota_mb = 1e+308 is not allowed"),
    ("[booth]\nmin_free_mb = 1e300\n", "booth.min_free_mb"),
    ("[source]\nspec = 'video:/nonexistent/clip.mp4'\n", "does not exist"),
    ("[source]\nspec = 'images:/nonexistent/*.jpg'\n", "no images match"),
    ("[source]\nspec = 'webcam:zero'\n", "a webcam is a number"),
    ("[run]\nreadings = '/nonexistent/dir/r.jsonl'\n", "does not exist"),
], ids=["quota-1e308", "min-free", "video-missing", "images-none", "webcam-word", "readings-folder"])
def test_config_check_refuses_exactly_what_a_start_refuses(text: str, words: str, model_cache: Path,
                                                           tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text + "[run]\nmode = 'photobooth'\n" if "[run]" not in text else text)
    check = cli("config", "check", str(cfg), timeout=60)
    start = cli("run", "--config", str(cfg), "--display", "headless", "--frames", "1",
                "--state-dir", str(tmp_path / "state"), timeout=120)
    for done in (check, start):
        no_traceback(done)
        assert done.returncode == 2 and words in done.stderr, done.stderr[-1500:]
    assert check.stderr.strip().splitlines()[-1] == start.stderr.strip().splitlines()[-1], "the same sentence"


NUMBERS = st.one_of(st.integers(-10, 10**19), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([1e308, -1e308, 1e9, 2**63 - 1, 0, 0.1]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({}, optional={
    "booth.quota_mb": NUMBERS, "booth.min_free_mb": NUMBERS, "booth.hold_ms": NUMBERS, "booth.countdown": NUMBERS,
    "booth.review_s": NUMBERS, "booth.cooldown_s": NUMBERS, "pipeline.score_hz": NUMBERS,
    "pipeline.idle_hz": NUMBERS, "pipeline.max_cpu": NUMBERS, "run.frames": NUMBERS}))
def test_numbers_the_config_accepts_are_numbers_the_start_can_hold(tmp_path_factory, values: dict) -> None:
    """Whatever passes the config's checks builds the photo booth and the scheduler without a
    crash (1e308 MB used to pass the check and overflow at start)."""
    from core.config import Config, ConfigError
    from kiosk.build import build_scheduler
    from kiosk.modes.photobooth import BoothMode

    try:
        config = Config().replace({**values, "run.state_dir": str(tmp_path_factory.mktemp("s"))})
    except ConfigError:
        return
    build_scheduler(config)
    BoothMode.from_config(config).close()


@pytest.mark.model
def test_a_config_that_passes_the_check_starts(face_video: Path, model_cache: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[booth]\nquota_mb = 1e9\nmin_free_mb = 0.0\n[run]\nmode = 'photobooth'\n"
                   f"[source]\nspec = 'video:{face_video}'\npace = false\n")
    assert cli("config", "check", str(cfg), timeout=60).returncode == 0
    done = cli("run", "--config", str(cfg), "--display", "headless", "--state-dir", str(tmp_path / "s"))
    no_traceback(done)
    assert done.returncode == 0, done.stderr[-1500:]


@pytest.mark.model
def test_readings_to_a_full_disk_warn_once_and_the_mirror_carries_on(face_video: Path, model_path: Path) -> None:
    from core.sources import VideoFileSource
    from core.landmarker import MediapipeLandmarker
    from kiosk.app import App, open_readings
    from kiosk.display import RecordingDisplay
    from kiosk.view import Screen

    from kiosk.states import KioskStates

    seen: list[Screen] = []

    class Watched(KioskStates):
        def step(self, now_ms, **kw):
            seen.append(KioskStates.step(self, now_ms, **kw))
            return seen[-1]

    readings = open_readings("/dev/full")
    app = App(open_source=lambda: VideoFileSource(face_video, pace=False), landmarker=MediapipeLandmarker(model_path),
              display=RecordingDisplay(screen=(640, 480)), readings=readings)
    app.states = Watched()
    app.run()
    assert app.stats.loop_errors == 0 and Screen.FAILSAFE not in seen
    assert app.stats.displayed >= 85 and readings is not None and readings.failed
    done = cli("run", "--source", f"video:{face_video}", "--no-pace", "--display", "headless", "--readings",
               "/dev/full", "--model", str(model_path))
    no_traceback(done)
    assert done.returncode == 0 and done.stderr.count("readings to /dev/full stopped") == 1, done.stderr[-1500:]


def test_an_unreadable_model_says_check_its_permissions(model_cache: Path, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / assets.MODEL.filename
    model.write_bytes((model_cache / assets.MODEL.filename).read_bytes())
    model.chmod(0)
    # root reads anything: drop the capabilities that let it, as an ordinary user has none
    cmd = [sys.executable, "-m", "kiosk.cli", "model", "verify", "--dir", str(folder)]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env_for(), cwd=REPO)
    no_traceback(done)
    assert done.returncode == 2 and "cannot be read (Permission denied); check its permissions" in done.stderr, \
        done.stderr


def test_a_directory_in_the_models_place_is_named_and_moved_aside_by_fetch(model_cache: Path,
                                                                           tmp_path: Path) -> None:
    folder = tmp_path / "models"
    (folder / assets.MODEL.filename).mkdir(parents=True)
    (folder / assets.MODEL.filename / "mine.txt").write_text("keep me")
    done = cli("model", "verify", "--dir", str(folder), timeout=60)
    no_traceback(done)
    assert done.returncode == 2 and "is a directory; move it away, then run `smile-mirror model fetch" in done.stderr
    from core.assets import _clear_the_way

    _clear_the_way(assets.MODEL, folder / assets.MODEL.filename)  # what `model fetch` does first
    aside = list(folder.glob(f"{assets.MODEL.filename}.not-a-file-*"))
    assert len(aside) == 1 and (aside[0] / "mine.txt").read_text() == "keep me", "nothing is lost"
    assert not (folder / assets.MODEL.filename).exists()


@pytest.mark.model
@pytest.mark.parametrize("manifest", ["[]", "{\"source_sha256\": 3, \"variants\": null}", "\ufeff{"])
def test_a_bad_variant_manifest_falls_back_to_the_official_model(manifest: str, model_cache: Path,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / assets.MODEL.filename).write_bytes((model_cache / assets.MODEL.filename).read_bytes())
    (folder / "variants.json").write_text(manifest)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nvariant = 'int8'\n")
    done = cli("model", "path", "--dir", str(folder), "--config", str(cfg), timeout=60)
    no_traceback(done)
    assert done.returncode == 0 and done.stdout.strip() == str(folder / assets.MODEL.filename)
    assert "using the official model" in done.stderr


@pytest.mark.parametrize("text, ok", [("[run]\na = " + "[" * 5000 + "]" * 5000 + "\n", False),
                                      ("\ufeff[display]\nmode = 'headless'\n", True)], ids=["5000-deep", "bom"])
def test_deep_nesting_and_a_byte_order_mark(text: str, ok: bool, tmp_path: Path) -> None:
    from core.config import ConfigError, load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    if ok:
        assert load_config(cfg).display.mode == "headless"
    else:
        with pytest.raises(ConfigError, match="nest too deeply"):
            load_config(cfg)


@pytest.mark.model
def test_a_truncated_jpeg_with_an_end_marker_is_scored_and_marked_damaged(model_cache: Path, tmp_path: Path) -> None:
    bgr = cv2.imread(str(model_cache / assets.ASTRONAUT.filename))
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg[:len(jpeg) // 2] + b"\xff\xd9")
    whole = tmp_path / "whole.jpg"
    whole.write_bytes(jpeg)
    done = cli("score", str(cut), str(whole), timeout=60)
    no_traceback(done)
    out = records(done)
    assert out[0]["damaged"].startswith("Corrupt JPEG data"), out[0]
    assert "damaged" not in out[1]
    assert "Corrupt JPEG data" not in done.stderr, "said in the output, not only on stderr"


@pytest.mark.model
def test_a_latin1_file_name_is_valid_json(model_cache: Path, tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9.png"
    with open(name, "wb") as fh:
        fh.write((model_cache / assets.ASTRONAUT.filename).read_bytes())
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "score", os.fsdecode(name)], capture_output=True,
                          timeout=60, env=env_for(), cwd=REPO)
    line = done.stdout.decode("utf-8").strip()  # strict: a lone surrogate would not even encode
    record = json.loads(line)
    assert record["path"].endswith("caf\\xe9.png") and record["face"] is True
    assert "\\udce9" not in line


# ---- privacy: a run never touches the network -------------------------------------------------

@pytest.mark.model
def test_a_missing_demo_image_is_never_downloaded_at_run_time(model_path: Path, tmp_path: Path) -> None:
    from core.errors import SourceError
    from core.sources.demo import DemoSource

    empty = tmp_path / "cache"
    empty.mkdir()
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="model fetch"):
        DemoSource(cache=empty)
    assert time.monotonic() - t0 < 2.0, "refused at once, no download tried"
    done = cli("run", "--source", "demo", "--display", "headless", "--frames", "1", "--model", str(model_path),
               cache=empty, timeout=60)
    no_traceback(done)
    assert done.returncode == 2 and "run `smile-mirror model fetch" in done.stderr, done.stderr
    assert "pip" not in done.stderr and "download" not in done.stderr.lower()
    assert list(empty.iterdir()) == [], "nothing was fetched into the cache"


@pytest.mark.model
def test_a_variant_that_looks_like_a_bundle_but_does_not_load_falls_back(model_cache: Path, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Past every file check (a zip of three "TFL3" members) and still no model: the builder
    loads the verified official model instead."""
    import zipfile

    from core.config import Config
    from kiosk.build import build_landmarker
    from kiosk.modes import mode_class

    (tmp_path / assets.MODEL.filename).write_bytes((model_cache / assets.MODEL.filename).read_bytes())
    fake = tmp_path / "face_landmarker-int8.task"
    with zipfile.ZipFile(fake, "w") as zf:
        for member in ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite"):
            zf.writestr(member, b"\0\0\0\0TFL3" + b"\0" * 64)
    config = Config()
    with caplog.at_level("WARNING"):
        lm = build_landmarker(config, fake, mode_class("lobby"))
    try:
        assert "does not load" in caplog.text and "using the official model" in caplog.text
        assert lm.detect(cv2.cvtColor(cv2.imread(str(model_cache / assets.ASTRONAUT.filename)), cv2.COLOR_BGR2RGB),
                         0.0), "the official model finds the face"
    finally:
        lm.close()
