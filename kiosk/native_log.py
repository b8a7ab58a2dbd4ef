"""Keep MediaPipe's native log (glog/absl, TensorFlow Lite) off the terminal and the journal.

Its C++ side writes straight to file descriptor 2: "W0000 ... face_landmarker_graph.cc:181]
Sets FaceBlendshapesGraph acceleration ...", "INFO: Created TensorFlow Lite XNNPACK delegate",
"WARNING: Logging before InitGoogle() ...". GLOG_minloglevel only reaches mediapipe 0.10's glog;
mediapipe 1.x logs through absl, which reads no environment variable. So fd 2 becomes a pipe
read by a small thread that drops native informational and warning lines and passes
everything else on (native errors and fatal messages, and any other program's output), while
Python's own stderr writes to the original descriptor directly, so our messages never wait on
the thread and none is lost at exit. `--verbose` leaves fd 2 alone.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading

# glog/absl "I0000 00:00:..."/"W0000 ..." lines, the TensorFlow Lite / absl banners, libpng's
# warnings about harmless colour profiles (OpenCV 4.10 decoding a PNG), and FFmpeg's own lines
# ("[mov,mp4,... @ 0x...] moov atom not found": our sentence about the file says it better).
NOISE = re.compile(rb"^(?:[IW]\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] |INFO: |WARNING: Logging before InitGoogle\(\)|"
                   rb"WARNING: All log messages before absl::InitializeLog\(\)|libpng warning: |"
                   rb"\[[\w,]+ @ 0x[0-9a-f]+\] )")

_installed = False


def is_noise(line: bytes) -> bool:
    """A native informational or warning line (errors, fatal lines and anything else are kept)."""
    return bool(NOISE.match(line))


def _pump(read_fd: int, out_fd: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            if pending and not is_noise(pending):
                _write(out_fd, pending)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
        if kept:
            _write(out_fd, kept)


def _write(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
    except OSError:
        pass  # nowhere left to write to


def silence_native_log() -> bool:
    """Filter fd 2 for the rest of the process (once); False where fd 2 is not ours to change."""
    global _installed
    if _installed:
        return True
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return False  # stderr already redirected in Python (e.g. a test harness): leave it
        sys.stderr.flush()
        original = os.dup(2)
        read_fd, write_fd = os.pipe()
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    os.set_inheritable(original, False)
    sys.stderr = io.TextIOWrapper(io.FileIO(original, "w", closefd=True), encoding=sys.stderr.encoding,
                                  errors="backslashreplace", line_buffering=True, write_through=True)
    threading.Thread(target=_pump, args=(read_fd, original), name="native-log", daemon=True).start()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _installed = True
    return True
