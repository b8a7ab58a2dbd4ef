"""The command line as people and scripts use it: real subprocesses, real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import assets

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cache: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    env.pop("SMILE_MIRROR_CONFIG", None)
    if cache is not None:
        env["SMILE_MIRROR_CACHE"] = str(cache)
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def test_score_prints_one_json_object_per_image(model_cache: Path, tmp_path: Path) -> None:
    junk = tmp_path / "broken.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    astronaut, cat = model_cache / "astronaut.png", model_cache / "chelsea.png"
    done = cli("score", str(astronaut), str(junk), str(cat), cache=model_cache)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(astronaut), str(junk), str(cat)]
    assert rows[0]["face"] is True and rows[0]["score"] >= 50 and rows[0]["kind"] in ("genuine", "posed")
    assert 0 <= rows[0]["eye_engagement"] <= 100
    assert "error" in rows[1] and "not a readable image" in rows[1]["error"]
    assert rows[2] == {"path": str(cat), "face": False, "score": None, "kind": None, "eye_engagement": None}
    assert done.returncode == 3  # some inputs failed; the others were still scored
    assert "Traceback" not in done.stderr


def test_score_lists_faces_when_asked(model_cache: Path) -> None:
    done = cli("score", "--max-faces", "2", str(model_cache / "astronaut.png"), cache=model_cache)
    row = json.loads(done.stdout)
    assert len(row["faces"]) == 1 and row["faces"][0]["score"] == row["score"]


def test_missing_model_is_one_sentence_with_the_fix(tmp_path: Path) -> None:
    done = cli("run", "--source", "demo", "--display", "headless", "--frames", "1", cache=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "missing" in done.stderr and "smile-mirror model fetch" in done.stderr


def test_truncated_model_is_named(tmp_path: Path, model_path: Path) -> None:
    bad = tmp_path / assets.MODEL.filename
    bad.write_bytes(model_path.read_bytes()[:100_000])
    done = cli("run", "--model", str(bad), "--display", "headless", "--frames", "1")
    assert done.returncode == 2 and "truncated" in done.stderr and "Traceback" not in done.stderr


def test_unknown_config_key_is_rejected_at_start(tmp_path: Path, model_cache: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[display]\nmdoe = 'window'\n")
    done = cli("run", "--config", str(config), "--frames", "1", cache=model_cache)
    assert done.returncode == 2
    assert str(config) in done.stderr and "display.mdoe" in done.stderr and "Traceback" not in done.stderr


def test_model_verify_and_path(model_cache: Path) -> None:
    assert cli("model", "path", cache=model_cache).stdout.strip() == str(model_cache / "face_landmarker.task")
    assert cli("model", "verify", cache=model_cache).stdout.startswith("OK ")


def test_run_a_video_headless_for_a_fixed_number_of_frames(face_video: Path, model_cache: Path, tmp_path: Path) -> None:
    readings = tmp_path / "readings.jsonl"
    done = cli("run", "--source", f"video:{face_video}", "--no-pace", "--display", "headless", "--frames", "45",
               "--readings", str(readings), cache=model_cache)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in readings.read_text().splitlines()]
    assert rows and rows[0]["face"] is True and rows[0]["score"] >= 50
    assert "mirror | score=" in done.stderr  # the headless display logs a line of readings


def test_config_default_is_valid(tmp_path: Path) -> None:
    text = cli("config", "default").stdout
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert cli("config", "check", str(path)).stdout.strip() == "config OK"


@pytest.mark.parametrize("args", [["run", "--source", "kinect", "--display", "headless", "--frames", "1"]])
def test_unknown_source_does_not_crash_the_kiosk(args: list[str], model_cache: Path) -> None:
    done = cli(*args, cache=model_cache, timeout=60)
    assert "Traceback" not in done.stderr


def test_a_failed_start_releases_the_model_quietly(model_cache: Path, tmp_path: Path) -> None:
    done = cli("run", "--source", "demo", "--display", "headless", "--frames", "1",
               "--readings", str(tmp_path / "no" / "such" / "dir" / "r.jsonl"), cache=model_cache)
    assert done.returncode == 2 and "cannot write readings" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


# ---- set-up edges: a typo stops the start; a camera is still retried ------------------------

def _zero_frame_video(path: Path) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    writer.release()  # a container with no frame in it
    return path


@pytest.mark.parametrize("source, words", [
    ("bogus", "source bogus is not a source"),
    ("video:", "source video: needs a file"),
    ("video:/no/such/clip.mp4", "video file /no/such/clip.mp4 does not exist"),
    ("corrupt", "cannot be decoded"),
    ("empty", "no frame that can be decoded"),
    ("images:/no/such/*.jpg", "no images match"),
])
def test_a_source_that_can_never_work_stops_the_start(source: str, words: str, model_cache: Path,
                                                      tmp_path: Path) -> None:
    if source == "corrupt":
        bad = tmp_path / "clip.mp4"
        bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        source = f"video:{bad}"
    elif source == "empty":
        source = f"video:{_zero_frame_video(tmp_path / 'empty.avi')}"
    done = cli("run", "--source", source, "--no-pace", "--display", "headless", cache=model_cache, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert words in done.stderr and "Traceback" not in done.stderr
    assert any(line.startswith("smile-mirror: ") and words in line for line in done.stderr.splitlines())


def test_an_absent_camera_is_still_waited_for(model_cache: Path) -> None:
    """A camera that is not there (yet) is not a typo: the start carries on and retries it."""
    import signal

    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SMILE_MIRROR_CACHE": str(model_cache)}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--source", "webcam:/dev/video-none",
                             "--display", "headless"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(6)
        pytest.fail(f"the mirror gave up on an absent camera: {proc.stderr.read()[-1000:]}")
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "camera unavailable" in err and proc.returncode == 0


def test_help_lists_every_command() -> None:
    from kiosk.cli import COMMANDS

    done = cli("--help")
    assert done.returncode == 0
    for name in COMMANDS:
        assert f"    {name} " in done.stdout, name
    assert "--source" in cli("run", "--help").stdout and "--verbose" in cli("score", "--help").stdout


def test_mirror_script_sends_help_to_the_command_list() -> None:
    text = (REPO / "mirror").read_text()
    assert '-h | --help) exec "$venv/bin/smile-mirror" --help' in text


@pytest.mark.model
def test_mediapipe_native_log_is_silent_unless_verbose(model_cache: Path) -> None:
    photo = str(model_cache / "astronaut.png")
    quiet = cli("score", photo, cache=model_cache)
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["face"] is True
    native = [line for line in quiet.stderr.splitlines() if not line.startswith("20")]  # our log lines: dated
    assert native == [], native
    assert "Face Landmarker loaded" in quiet.stderr  # our own log still comes through
    loud = cli("score", "--verbose", photo, cache=model_cache)
    assert loud.returncode == 0
    assert any(".cc:" in line or line.startswith(("INFO: ", "WARNING: ")) for line in loud.stderr.splitlines()), \
        "--verbose should show MediaPipe's own log (if this mediapipe logs nothing, drop this line)"


def test_the_native_log_filter_keeps_errors() -> None:
    from kiosk.native_log import is_noise

    assert is_noise(b"W0000 00:00:1796162680.430238   15164 face_landmarker_graph.cc:181] Sets FaceBlendshapes")
    assert is_noise(b"I1201 12:00:00.123456 12345 gl_context.cc:357] GL version: 3.2")
    assert is_noise(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert is_noise(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert not is_noise(b"E0000 00:00:1796162680.430238   15164 calculator_graph.cc:12] graph failed")
    assert not is_noise(b"F0000 00:00:1796162680.430238   15164 check.cc:1] Check failed")
    assert is_noise(b"libpng warning: iCCP: known incorrect sRGB profile")
    assert is_noise(b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x559003687440] moov atom not found")
    assert not is_noise(b"smile-mirror: unknown source 'bogus'")
    assert not is_noise(b"2026-12-01 22:05:46,610 WARNING core.pipeline: camera unavailable")
