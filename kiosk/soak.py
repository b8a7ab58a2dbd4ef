"""`smile-mirror soak`: the real app loop (real landmarker, real renderer) over a looping video,
as fast as possible, watching the process for leaks.

Every `every` displayed frames it prints the resident set size, the open file descriptors and
the thread count (native threads, from /proc: MediaPipe's own included). The verdict compares
the end with the first sample after warm-up: RSS may grow by at most `max_growth_pct`, fds and
threads must not change. Exit code 0 for PASS, 1 for FAIL, so CI and the Pi can run it.

`faults=True` also unplugs the camera and feeds it garbage frames on a schedule (the shipped
`core.faults.FaultySource`), so the recovery paths are soaked too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

PAGE = os.sysconf("SC_PAGE_SIZE")
# One reopen and a few garbage frames per pass of this many source frames (with faults=True).
FAULT_SCRIPT = {50: "black", 100: "wrong_size", 150: "noise", 200: "grey", 299: "unplug"}


@dataclass(frozen=True, slots=True)
class Sample:
    frames: int
    t_s: float
    rss_mb: float
    fds: int
    threads: int


def sample(frames: int, t_s: float) -> Sample:
    """This process now: resident memory (not the peak), open fds, native threads."""
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * PAGE
    threads = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    return Sample(frames, t_s, rss / 2**20, len(os.listdir("/proc/self/fd")), threads)


@dataclass(slots=True)
class Verdict:
    passed: bool
    base: Sample
    end: Sample
    growth_pct: float
    peak_rss_mb: float
    reasons: list[str] = field(default_factory=list)

    def line(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        text = (f"{word}: {self.end.frames} frames in {self.end.t_s:.0f} s ({self.end.frames / max(self.end.t_s, 1e-9):.0f} fps); "
                f"RSS {self.base.rss_mb:.1f} -> {self.end.rss_mb:.1f} MB ({self.growth_pct:+.2f}%, peak "
                f"{self.peak_rss_mb:.1f}) after warm-up at frame {self.base.frames}; fds {self.base.fds} -> "
                f"{self.end.fds}; threads {self.base.threads} -> {self.end.threads}")
        return text + ("" if self.passed else " (" + "; ".join(self.reasons) + ")")


def judge(samples: list[Sample], warmup: int, max_growth_pct: float) -> Verdict:
    """End against the first sample at or after `warmup` frames."""
    after = [s for s in samples if s.frames >= warmup] or samples[-1:]
    base, end = after[0], samples[-1]
    growth = 100.0 * (end.rss_mb - base.rss_mb) / base.rss_mb
    reasons = []
    if growth > max_growth_pct:
        reasons.append(f"RSS grew {growth:.2f}% > {max_growth_pct:g}%")
    if end.fds != base.fds:
        reasons.append(f"open fds changed {base.fds} -> {end.fds}")
    if end.threads != base.threads:
        reasons.append(f"threads changed {base.threads} -> {end.threads}")
    if end.frames <= base.frames:
        reasons.append("no frames after warm-up: run more frames or a shorter warm-up")
    return Verdict(not reasons, base, end, growth, max(s.rss_mb for s in samples), reasons)


class _SampledDisplay:
    """The real display, plus a sample every `every` presented frames (in the loop's thread)."""

    def __init__(self, inner, every: int, on_sample: Callable[[int], None]) -> None:
        self._inner, self._every, self._on_sample = inner, every, on_sample
        self.presented = 0

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def present(self) -> None:
        self._inner.present()
        self.presented += 1
        if self.presented % self._every == 0:
            self._on_sample(self.presented)


def run_soak(*, model: Path, cache: Path | None, video: Path | None = None, frames: int = 100_000,
             every: int = 5_000, warmup: int | None = None, max_growth_pct: float = 2.0, display: str = "record",
             faults: bool = False, out: TextIO = sys.stdout) -> int:
    """Soak the app loop for `frames` displayed frames; print samples and a verdict; 0 = PASS."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from core.config import Config
    from core.sources import VideoFileSource
    from kiosk.build import build_app
    from kiosk.bench import make_bench_video
    from kiosk.display import PygameDisplay, RecordingDisplay

    every = max(1, every)
    warmup = warmup if warmup is not None else max(every, frames // 10)
    with tempfile.TemporaryDirectory(prefix="smile-soak-") as tmp:
        if video is None:
            video = make_bench_video(Path(tmp) / "soak-640x480.avi", cache, seconds=10.0, size=(640, 480))
        probe = VideoFileSource(video, pace=False)
        first = probe.read()
        probe.close()
        if first is None:
            print(f"smile-mirror soak: {video} has no frames", file=out)
            return 1
        size = first.size

        def open_source():
            source = VideoFileSource(video, size=size, pace=False, loop=True)
            if faults:
                from core.faults import FaultySource
                return FaultySource(source, FAULT_SCRIPT)
            return source

        screen = (PygameDisplay(fullscreen=False, window=(1280, 720)) if display == "pygame"
                  else RecordingDisplay(screen=(1280, 720)))
        samples: list[Sample] = []
        t0 = time.monotonic()

        def on_sample(n: int) -> None:
            s = sample(n, time.monotonic() - t0)
            samples.append(s)
            print(f"frames={s.frames:>8} t={s.t_s:8.1f}s rss={s.rss_mb:8.1f}MB fds={s.fds:4d} "
                  f"threads={s.threads:3d}", file=out, flush=True)

        print(f"soak: {frames} frames of {video.name} ({size[0]}x{size[1]}, looping, as fast as possible), "
              f"{display} display, real landmarker{', injected faults' if faults else ''}; sample every {every}, "
              f"warm-up {warmup}", file=out, flush=True)
        app = build_app(Config().replace({"run.frames": frames}), model, display=_SampledDisplay(screen, every, on_sample),
                        open_source=open_source, backoff_s=(0.01, 0.1))
        on_sample(0)
        app.run()
        if not samples or samples[-1].frames != app.stats.displayed:
            on_sample(app.stats.displayed)
    verdict = judge(samples, warmup, max_growth_pct)
    s = app.stats
    print(f"app: displayed={s.displayed} scored={s.readings} faces={s.faces} landmarker_errors={s.landmarker_errors} "
          f"loop_errors={s.loop_errors} reconnects={app.capture.status().reconnects} "
          f"bad_frames={app.capture.status().bad_frames}", file=out)
    print(verdict.line(), file=out, flush=True)
    return 0 if verdict.passed else 1
