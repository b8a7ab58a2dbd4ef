"""Decoding an image file that may be hostile: bounded in memory, and honest about damage.

Three layers, cheapest first:

1. the file: a regular file of at most MAX_FILE_BYTES, read once into one buffer (a FIFO, a
   device or a directory is refused before anything is read; core.safe_io);
2. the header: the size it declares, read without decoding for JPEG, PNG, BMP, WebP, GIF, TIFF
   (classic and BigTIFF), PNM/PAM, Sun raster, Radiance HDR, PFM and JPEG 2000, so a 64 KB
   30000x30000 G4 TIFF is refused before a 2.7 GB picture is allocated;
3. OpenCV's own limit for every format it decodes (`OPENCV_IO_MAX_IMAGE_PIXELS`, checked by
   cv2 on the header before it allocates): set in `core/__init__.py` before cv2 is imported, so
   a format this module does not parse is still bounded.

libjpeg's "Corrupt JPEG data" warnings go to stderr and the picture comes back half grey;
they are caught here and reported with the image, so a damaged photo is never scored silently.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ImageReadError
from core.safe_io import UnreadableFile, read_regular_array, shown

log = logging.getLogger(__name__)

MAX_SIDE = 8192
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # also OpenCV's limit (core/__init__.py)
MAX_FILE_BYTES = 256 << 20        # an uncompressed 8192x8192 BMP is 201 MB


@dataclass(slots=True)
class Decoded:
    bgr: np.ndarray
    warnings: list[str] = field(default_factory=list)  # the decoder's complaints: damaged data
    notes: list[str] = field(default_factory=list)     # its other chatter (libpng's profile warnings)


def read_image(path: Path, max_side: int = MAX_SIDE) -> Decoded:
    """Decode an image file to BGR, or raise ImageReadError saying why not (one sentence)."""
    import cv2

    name = shown(path)
    try:
        data = read_regular_array(path, limit=MAX_FILE_BYTES, what="image")
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except UnreadableFile as exc:
        raise ImageReadError(f"{name}: cannot be read ({exc.reason})") from None
    except OSError as exc:
        raise ImageReadError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if data.size == 0:
        raise ImageReadError(f"{name}: empty file")
    buf = memoryview(data)
    size = declared_size(buf)
    if size is not None and (max(size) > max_side or size[0] * size[1] > MAX_PIXELS):
        raise ImageReadError(f"{name}: its header declares {size[0]}x{size[1]} pixels, larger than {max_side} on a side")
    is_jpeg = bytes(buf[:2]) == b"\xff\xd8"
    if is_jpeg and _find(buf, b"\xff\xd9", max(_rfind(buf, b"\xff\xda"), 0)) < 0:
        raise ImageReadError(f"{name}: not a readable image (a truncated JPEG: its data stops before the end marker)")
    try:
        bgr, warnings, notes = _decode_capturing_warnings(data)
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1][:120]
        if "CV_IO_MAX_IMAGE" in reason:
            reason = f"larger than {MAX_PIXELS:,} pixels"
        raise ImageReadError(f"{name}: not a readable image ({reason})") from None
    if bgr is None:
        raise ImageReadError(f"{name}: not a readable image (corrupt, truncated or an unsupported format)")
    if max(bgr.shape[:2]) > max_side:
        raise ImageReadError(f"{name}: {bgr.shape[1]}x{bgr.shape[0]} pixels is larger than {max_side} on a side")
    return Decoded(bgr, warnings, notes)


# ---- libjpeg's warnings -----------------------------------------------------------------------

_stderr_lock = threading.Lock()
_JPEG_WARNING = re.compile(r"^(Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|"
                           r"Warning: unknown JFIF revision|Inconsistent progression sequence|"
                           r"Huffman table 0x[0-9a-f]+ was not defined|JPEG datastream contains no image)[^\n]*",
                           re.MULTILINE)


_CODEC_NOTE = re.compile(r"^(libpng (warning|error)|TIFF\w*: Warning|Warning, )[^\n]*", re.MULTILINE)


def _decode_capturing_warnings(data: np.ndarray) -> tuple[np.ndarray | None, list[str], list[str]]:
    """cv2.imdecode with file descriptor 2 sent to a temporary file for the call: libjpeg and
    libpng write their warnings there and nowhere else (once per decode: a looping image list
    would repeat them for ever). Returns (image, damage warnings, other codec notes); anything
    else written meanwhile (another thread's log) is passed on to the real stderr afterwards."""
    import cv2

    with _stderr_lock, tempfile.TemporaryFile() as capture:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            try:
                bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        capture.seek(0)
        text = capture.read(1 << 16).decode("utf-8", "replace")
    warnings = [m.group(0).strip() for m in _JPEG_WARNING.finditer(text)]
    notes = [m.group(0).strip() for m in _CODEC_NOTE.finditer(text)]
    rest = _CODEC_NOTE.sub("", _JPEG_WARNING.sub("", text)).strip()
    if rest:
        try:
            os.write(2, (rest + "\n").encode())
        except OSError:
            pass
    return bgr, warnings, notes


# ---- header sizes -----------------------------------------------------------------------------

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(buf: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) as the header declares it, without decoding; None for a format not
    parsed here or a header too damaged to say (OpenCV's own limit then applies)."""
    buf = memoryview(buf)
    head = bytes(buf[:64])
    be = lambda i, n=2: int.from_bytes(buf[i:i + n], "big")  # noqa: E731
    le = lambda i, n=2: int.from_bytes(buf[i:i + n], "little")  # noqa: E731
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(buf) >= 24:
        return be(16, 4), be(20, 4)
    if head.startswith(b"BM") and len(buf) >= 26:
        return (abs(int.from_bytes(buf[18:22], "little", signed=True)),
                abs(int.from_bytes(buf[22:26], "little", signed=True)))
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP" and len(buf) >= 30:
        if head[12:16] == b"VP8X":
            return 1 + le(24, 3), 1 + le(27, 3)
        if head[12:16] == b"VP8L":
            bits = le(21, 4)
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if head[12:16] == b"VP8 ":
            return le(26) & 0x3FFF, le(28) & 0x3FFF
        return None
    if head[:6] in (b"GIF87a", b"GIF89a") and len(buf) >= 10:
        return _gif_size(buf, le)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff_size(buf)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(buf, be)
    if head[:2] in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"PF", b"Pf"):
        m = re.match(rb"P[1-6Ff](?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)", head)
        return (int(m.group(1)), int(m.group(2))) if m else None
    if head[:2] == b"P7":
        text = bytes(buf[:1024])
        w, h = re.search(rb"\nWIDTH\s+(\d+)", text), re.search(rb"\nHEIGHT\s+(\d+)", text)
        return (int(w.group(1)), int(h.group(1))) if w and h else None
    if head[:4] == b"\x59\xa6\x6a\x95" and len(buf) >= 12:  # Sun raster
        return be(4, 4), be(8, 4)
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        m = re.search(rb"\n\n([-+])Y (\d+) ([-+])X (\d+)", bytes(buf[:4096]))
        return (int(m.group(4)), int(m.group(2))) if m else None
    if head[4:8] == b"jP  " or head[:4] == b"\xff\x4f\xff\x51":  # JPEG 2000 (jp2 box / raw codestream)
        text = bytes(buf[:4096])
        i = text.find(b"ihdr")
        if i >= 0 and len(text) >= i + 12:
            return int.from_bytes(text[i + 8:i + 12], "big"), int.from_bytes(text[i + 4:i + 8], "big")
        i = text.find(b"\xff\x51")
        if i >= 0 and len(text) >= i + 14:
            return int.from_bytes(text[i + 6:i + 10], "big"), int.from_bytes(text[i + 10:i + 14], "big")
    return None


def _jpeg_size(buf: memoryview, be) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(buf):
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _JPEG_SOF:
            return be(i + 7), be(i + 5)
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
        else:
            i += 2 + be(i + 2)
    return None


def _gif_size(buf: memoryview, le) -> tuple[int, int]:
    """The logical screen, or a larger first frame (the decoder allocates the larger)."""
    w, h = le(6), le(8)
    flags = buf[10] if len(buf) > 10 else 0
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while i < min(len(buf), 1 << 20):  # skip extensions up to the first image descriptor
        if buf[i] == 0x21 and i + 2 < len(buf):
            i += 2
            while i < len(buf) and buf[i]:
                i += 1 + buf[i]
            i += 1
        elif buf[i] == 0x2C and i + 9 < len(buf):
            return max(w, le(i + 1) + le(i + 5)), max(h, le(i + 3) + le(i + 7))
        else:
            break
    return w, h


def _tiff_size(buf: memoryview) -> tuple[int, int] | None:
    """The largest width and height over the first few IFDs (every page may be decoded)."""
    order = "little" if bytes(buf[:2]) == b"II" else "big"
    num = lambda i, n: int.from_bytes(buf[i:i + n], order)  # noqa: E731
    big = num(2, 2) == 43
    off = num(8, 8) if big else num(4, 4)
    w = h = 0
    for _ in range(16):
        count_size, entry_size = (8, 20) if big else (2, 12)
        if off <= 0 or off + count_size > len(buf):
            break
        n = num(off, count_size)
        for k in range(min(n, 512)):
            e = off + count_size + k * entry_size
            if e + entry_size > len(buf):
                break
            tag, typ = num(e, 2), num(e + 2, 2)
            vo = e + (12 if big else 8)
            value = num(vo, 2) if typ == 3 else num(vo, 4) if typ == 4 else num(vo, 8) if typ == 16 else None
            if value is None:
                continue
            if tag == 256:
                w = max(w, value)
            elif tag == 257:
                h = max(h, value)
        nxt = off + count_size + n * entry_size
        if nxt + (8 if big else 4) > len(buf):
            break
        off = num(nxt, 8 if big else 4)
    return (w, h) if w or h else None


def _find(buf: memoryview, pattern: bytes, start: int = 0, chunk: int = 1 << 20) -> int:
    """bytes.find over a large buffer, one chunk at a time (no copy of the whole file)."""
    pos = start
    while pos < len(buf):
        piece = bytes(buf[pos:pos + chunk + len(pattern) - 1])
        i = piece.find(pattern)
        if i >= 0:
            return pos + i
        pos += chunk
    return -1


def _rfind(buf: memoryview, pattern: bytes, chunk: int = 1 << 20) -> int:
    end = len(buf)
    while end > 0:
        start = max(0, end - chunk)
        piece = bytes(buf[start:min(len(buf), end + len(pattern) - 1)])
        i = piece.rfind(pattern)
        if i >= 0:
            return start + i
        end = start
    return -1
