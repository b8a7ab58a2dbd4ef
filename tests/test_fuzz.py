"""Bad input, property-based: `smile-mirror score` and the config loader fed corrupted files.

Each input must give a clear error naming that input (or, for an image that still decodes, a
normal reading) and never an exception that ends the run. The image properties call the same
function `score` calls per file (kiosk.cli.score_one) with one landmarker for speed; one test
runs the real command in a subprocess on a batch of the worst cases.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from core.config import Config, ConfigError, SECTIONS, load_config
from core.landmarker import MediapipeLandmarker
from kiosk.cli import score_one

REPO = Path(__file__).resolve().parents[1]
READING_KEYS = {"path", "face", "score", "kind", "eye_engagement"}
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def still_landmarker(model_path: Path):
    with MediapipeLandmarker(model_path, still=True) as lm:
        yield lm


@pytest.fixture(scope="module")
def encoded(astronaut: np.ndarray) -> dict[str, bytes]:
    """The astronaut, small, in each format people send."""
    bgr = cv2.cvtColor(cv2.resize(astronaut, (256, 256)), cv2.COLOR_RGB2BGR)
    out = {}
    for ext in ("jpg", "png", "bmp", "webp"):
        ok, buf = cv2.imencode(f".{ext}", bgr)
        assert ok
        out[ext] = buf.tobytes()
    return out


def score_bytes(lm, tmp_path: Path, data: bytes, name: str = "input.bin") -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    record = score_one(lm, path, 1)
    json.dumps(record)  # printable as the command prints it
    assert record["path"] == str(path)
    if "error" in record:
        assert set(record) == {"path", "error"}
        assert record["error"].startswith(str(path)), "the error names the input"
        assert len(record["error"]) < 400 and "\n" not in record["error"]
    else:
        assert set(record) - {"damaged"} == READING_KEYS
        # libjpeg's own words, one line: "Corrupt JPEG data: ...", "Invalid SOS parameters ..."
        assert "damaged" not in record or (record["damaged"] and "\n" not in record["damaged"]), record
    return record


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    sof = jpeg.find(b"\xff\xc0")
    assert sof > 0
    return jpeg[:sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9:]


# ---- images ----------------------------------------------------------------------------------

@FUZZ
@given(ext=st.sampled_from(["jpg", "png", "bmp", "webp"]), keep=st.floats(0.0, 1.0, exclude_max=True))
@example(ext="jpg", keep=0.0).via("zero-byte file")
@example(ext="jpg", keep=0.999).via("JPEG missing only its end marker")
def test_truncated_images(still_landmarker, encoded, tmp_path, ext: str, keep: float) -> None:
    data = encoded[ext]
    cut = data[:int(len(data) * keep)]
    record = score_bytes(still_landmarker, tmp_path, cut, f"cut.{ext}")
    if ext == "jpg" or (ext == "png" and len(data) - len(cut) > 12) or not cut:  # 12: the IEND chunk
        assert "error" in record, f"a truncated {ext} must be reported, got {record}"
    if not cut:
        assert "empty file" in record["error"]


@FUZZ
@given(width=st.one_of(st.integers(1, 4000), st.integers(8193, 2**31 - 1)),
       height=st.one_of(st.integers(1, 4000), st.integers(8193, 2**31 - 1)))
def test_huge_declared_png_dimensions(still_landmarker, tmp_path, width: int, height: int) -> None:
    record = score_bytes(still_landmarker, tmp_path, png_declaring(width, height), "huge.png")
    assert "error" in record
    if max(width, height) > 8192:
        assert f"declares {width}x{height}" in record["error"], "refused from the header, before decoding"


@FUZZ
@given(width=st.one_of(st.integers(1, 2000), st.integers(8193, 65535)),
       height=st.one_of(st.integers(1, 2000), st.integers(8193, 65535)))
def test_huge_declared_jpeg_dimensions(still_landmarker, encoded, tmp_path, width: int, height: int) -> None:
    record = score_bytes(still_landmarker, tmp_path, jpeg_declaring(encoded["jpg"], width, height), "huge.jpg")
    if max(width, height) > 8192:
        assert f"declares {width}x{height}" in record["error"]


MAGIC = [b"", b"\xff\xd8\xff\xe0", b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b"BM", b"RIFF\0\0\0\0WEBPVP8 ", b"GIF89a",
         b"P6\n16 16\n255\n", b"II*\0", b"MM\0*", b"\0\0\0\x0cjP  "]


@FUZZ
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=2048))
@example(magic=b"", body=b"")
@example(magic=b"", body=b"[source]\nspec = 'demo'\n").via("a TOML file named .jpg")
@example(magic=b"\x7fELF\x02\x01\x01", body=b"\0" * 64).via("an executable")
@example(magic=b"PK\x03\x04", body=b"\0" * 64).via("a zip")
@example(magic=b"P6\n16 16\n255\n", body=b"\x80" * 768).via("a 16x16 PPM: decodes, scored")
@example(magic=b"P6\n1 1\n255\n", body=b"\x80" * 3).via("a 1x1 PPM: decodes, too small to score")
def test_random_and_non_image_bytes(still_landmarker, tmp_path, magic: bytes, body: bytes) -> None:
    record = score_bytes(still_landmarker, tmp_path, magic + body, "photo.jpg")
    if not magic and not body.startswith(b"P"):
        assert "error" in record


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=12),
       ext=st.sampled_from(["jpg", "png", "webp"]))
def test_bit_flipped_images(still_landmarker, encoded, tmp_path, flips, ext: str) -> None:
    data = bytearray(encoded[ext])
    for where, mask in flips:
        data[where % len(data)] ^= mask
    score_bytes(still_landmarker, tmp_path, bytes(data), f"flipped.{ext}")


def test_a_tiny_decodable_image_is_an_error_for_that_file_only(still_landmarker, tmp_path) -> None:
    """A 1x1 PNG decodes, then the landmarker refused it with FrameError, which ended the batch."""
    ok, buf = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))
    record = score_bytes(still_landmarker, tmp_path, buf.tobytes(), "dot.png")
    assert "cannot be scored" in record["error"] and "1x1" in record["error"]


def test_score_command_survives_a_batch_of_bad_files(model_cache: Path, encoded, tmp_path: Path) -> None:
    files = {
        "empty.jpg": b"",
        "truncated.jpg": encoded["jpg"][: len(encoded["jpg"]) // 2],
        "truncated.png": encoded["png"][:200],
        "huge.png": png_declaring(60000, 60000),
        "huge.jpg": jpeg_declaring(encoded["jpg"], 20000, 20000),
        "dot.png": cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes(),
        "notes.jpg": b"not a picture at all\n",
        "noise.png": os.urandom(3000),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / n) for n in files] + [str(tmp_path / "missing.jpg"), str(tmp_path),
                                                  str(model_cache / "astronaut.png")]
    env = {**os.environ, "SMILE_MIRROR_CACHE": str(model_cache)}
    env.pop("SMILE_MIRROR_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "score", *paths], capture_output=True, text=True,
                          timeout=120, env=env, cwd=REPO)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["path"] for r in rows] == paths, "one line per input, in order, to the end"
    assert all("error" in r and r["error"].startswith(r["path"]) for r in rows[:-1])
    assert rows[-1]["face"] is True and rows[-1]["score"] >= 50
    assert done.returncode == 3 and "Traceback" not in done.stderr


# ---- config -----------------------------------------------------------------------------------

def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml_text(data: dict) -> str:
    lines = [f"{toml_value(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines.append(f"[{toml_value(section)}]")
            lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


FIELDS = {s: {f.name: f for f in fields(cls)} for s, cls in SECTIONS.items()}
scalars = st.one_of(st.booleans(), st.integers(), st.integers(-10**30, 10**30) | st.just(10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from([c for fs in FIELDS.values() for f in fs.values()
                                     for c in f.metadata.get("choices", ())]))
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=2))
keys_of = {s: st.one_of(st.sampled_from(sorted(fs)), st.text(max_size=8)) for s, fs in FIELDS.items()}
sections = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=8))
config_dicts = sections.flatmap(
    lambda s: st.tuples(st.just(s), st.one_of(
        st.dictionaries(keys_of.get(s, st.text(max_size=8)), values, max_size=4), scalars))
).map(lambda kv: {kv[0]: kv[1]})
config_dicts = st.lists(config_dicts, max_size=4).map(lambda ds: {k: v for d in ds for k, v in d.items()})


def allowed(section: str, key: str, value) -> bool:
    """The schema, restated independently of core.config: what must load."""
    f = FIELDS.get(section, {}).get(key)
    if f is None:
        return False
    kind, meta = str(f.type), f.metadata
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, str)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            try:
                value = float(value)
            except OverflowError:
                return False
    if ok and meta.get("choices"):
        ok = value in meta["choices"]
    if ok and kind in ("int", "float"):
        ok = (meta.get("lo") is None or value >= meta["lo"]) and (meta.get("hi") is None or value <= meta["hi"])
    return ok


@settings(max_examples=300, deadline=None)
@given(data=config_dicts)
def test_random_config_dicts_load_exactly_when_the_schema_allows(tmp_path_factory, data: dict) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(to_toml_text(data), encoding="utf-8")
    valid = all(s in FIELDS and isinstance(v, dict) and all(allowed(s, k, x) for k, x in v.items())
                for s, v in data.items())
    if valid:
        config = load_config(path)
        for s, v in data.items():
            for k, x in v.items():
                got = getattr(getattr(config, s), k)
                assert got == x or (isinstance(x, float) and got == pytest.approx(x))
        return
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message and len(message) < 600
    named = [f"[{s}]" if s not in FIELDS or not isinstance(v, dict) else f"{s}.{k}"
             for s, v in data.items() for k, x in (v.items() if isinstance(v, dict) and v else [(None, v)])
             if s not in FIELDS or not isinstance(v, dict) or not allowed(s, k, x)]
    printable = [n for n in named if n.isprintable() and len(n) < 40]
    assert any(n in message for n in printable) or len(printable) < len(named), message


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=300),
                      st.lists(st.sampled_from(["[source]", "[pipeline]", "[run", "spec = 'demo'", "max_cpu = 0.3",
                                                "max_cpu = ", "= 3", "[[source]]", "a.b.c = 1", "x = [1,", "\"\"\"",
                                                "frames = 1e999", "frames = 0x10", "width = 1_000", "\x00", "ñ = 1"]),
                               max_size=8).map("\n".join)))
def test_random_toml_text_gives_a_config_or_one_sentence(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        assert isinstance(load_config(path), Config)
    except ConfigError as exc:
        assert str(exc).startswith((str(path), f"config file {path}")) and len(str(exc)) < 600


@settings(max_examples=200, deadline=None)
@given(overrides=st.dictionaries(st.one_of(st.sampled_from([f"{s}.{k}" for s, fs in FIELDS.items() for k in fs]),
                                           st.text(max_size=12)), values, max_size=4))
def test_random_command_line_overrides(overrides: dict) -> None:
    try:
        Config().replace(overrides)
    except ConfigError as exc:
        assert str(exc).startswith("command line: ")


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=512))
def test_random_bytes_as_a_config_file(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
