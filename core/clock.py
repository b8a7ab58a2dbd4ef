"""Monotonic milliseconds: a Pi without an RTC jumps its wall clock when NTP syncs, and
MediaPipe's VIDEO mode needs strictly increasing timestamps."""

import time


def now_ms() -> float:
    """Milliseconds on the monotonic clock (float, sub-ms resolution)."""
    return time.monotonic_ns() / 1e6
