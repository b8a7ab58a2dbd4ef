"""Pure inference per tracked frame, the backends side by side (`bench`'s `inference` figures).

Each contender (mediapipe's bare Tasks API and the mediapipe backend around it; LiteRT with one
thread and with two) lives in its own process, pinned where it belongs, and works through the
same decoded frames in turns of `CHUNK` frames, in an order that rotates every round: a shared
machine's drift (on a busy VM the same work moves between 8 and 12 ms within minutes) then falls
on all of them alike instead of on whichever ran last, and no contender's idle threads, heap or
peak RSS count against another. Each keeps its own tracking and its own clock. With a CPU set (`--cpus 0-1`), the one-thread
contenders run on its first CPU and LiteRT's two threads on the whole set: the goals compare
one Pi core with two.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

log = logging.getLogger(__name__)

CHUNK = 30  # frames a contender runs before the next one's turn: ~0.3 s, shorter than the drift
WARM_UP = 10
Step = tuple[Callable[[np.ndarray, int], Any], Callable[[], None]]  # run on (frame, t_ms); close


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Contender(Protocol):
    name: str

    def turn(self, count: int) -> tuple[float, float]:
        """Runs `count` frames; returns (wall s, CPU s) they took."""

    def close(self) -> None: ...


@dataclass
class Tally:
    name: str
    wall: float = 0.0
    cpu: float = 0.0
    frames: int = 0
    turns: list[float] = field(default_factory=list)  # wall ms per frame, each turn


class Local:
    """A landmarker in this process: `step(rgb, t_ms)` runs it on one frame."""

    def __init__(self, name: str, step: Callable[[np.ndarray, int], Any], images: list[np.ndarray],
                 close: Callable[[], None] = lambda: None) -> None:
        self.name, self._step, self._images, self._close = name, step, images, close
        self.frames = 0

    def turn(self, count: int) -> tuple[float, float]:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            self._step(self._images[self.frames % len(self._images)], 100 + 33 * self.frames)
            self.frames += 1
        return time.perf_counter() - wall0, time.process_time() - cpu0

    def close(self) -> None:
        self._close()


def take_turns(contenders: list[Contender], frames: int, chunk: int = CHUNK) -> list[Tally]:
    """`frames` timed frames for each contender, in turns of `chunk`, after a warm-up."""
    for c in contenders:
        c.turn(WARM_UP)
    tallies = [Tally(c.name) for c in contenders]
    done = 0
    while done < frames:
        count = min(chunk, frames - done)
        first = (done // chunk) % len(contenders)
        for i in list(range(first, len(contenders))) + list(range(first)):
            wall, cpu = contenders[i].turn(count)
            t = tallies[i]
            t.wall, t.cpu, t.frames = t.wall + wall, t.cpu + cpu, t.frames + count
            t.turns.append(1000 * wall / count)
        done += count
    return tallies


# ---- the contenders ---------------------------------------------------------------------------

def mediapipe_step(model: str) -> Step:
    """mediapipe's Face Landmarker in VIDEO mode, as the mediapipe backend makes it: the floor
    for any app built on it (no conversion of its results)."""
    from core.armcpu import mediapipe_blocker
    from core.errors import ModelError

    why = mediapipe_blocker()
    if why:  # an ARMv8.0 CPU: loading mediapipe 1.x there is a SIGILL
        raise ModelError(why)
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core import base_options

    options = vision.FaceLandmarkerOptions(base_options=base_options.BaseOptions(model_asset_path=model),
                                           running_mode=vision.RunningMode.VIDEO, num_faces=1,
                                           output_face_blendshapes=True, output_facial_transformation_matrixes=True)
    task = vision.FaceLandmarker.create_from_options(options)
    return (lambda rgb, t: task.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), t)), task.close


def mediapipe_backend_step(model: str) -> Step:
    """The mediapipe backend as the app runs it (`core.landmarker.MediapipeLandmarker`): its
    results made into `FaceObservation`s with their mouth patches, as LiteRT's are, so the two
    compare like for like."""
    from core.landmarker import MediapipeLandmarker

    lm = MediapipeLandmarker(Path(model))
    return (lambda rgb, t: lm.detect(rgb, float(t))), lm.close


def litert_step(model: str, threads: int) -> Step:
    """The LiteRT landmarker (tracking from frame to frame), returning `FaceObservation`s."""
    from core.backends.litert import LiteRTLandmarker

    lm = LiteRTLandmarker(Path(model), threads=threads)
    return (lambda rgb, t: lm.detect(rgb, float(t))), lm.close


STEPS: dict[str, Callable[[str], Step]] = {
    "mediapipe": mediapipe_step,
    "mediapipe_seam": mediapipe_backend_step,
    "litert": lambda model: litert_step(model, 1),
    "litert_2t": lambda model: litert_step(model, 2),
}


def contender_names(backends: tuple[str, ...]) -> list[str]:
    """mediapipe: its bare task and its backend; litert: one thread and two."""
    return [n for b in backends for n in STEPS if n.partition("_")[0] == b]


def read_frames(video: Path, frames: int, width: int, height: int) -> list[np.ndarray]:
    from core.sources import VideoFileSource

    source = VideoFileSource(video, size=(width, height), pace=False, loop=True)
    try:
        return [np.ascontiguousarray(source.read().rgb) for _ in range(min(frames, 300))]
    finally:
        source.close()


class Child:
    """A contender in its own process, taking its turns when told (one line each way)."""

    def __init__(self, name: str, video: Path, model: Path, frames: int, width: int, height: int,
                 cpus: set[int] | None) -> None:
        self.name = name
        cmd = [sys.executable, "-m", "kiosk.bench_inference", name, "--video", str(video), "--model", str(model),
               "--frames", str(frames), "--width", str(width), "--height", str(height)]
        if cpus is not None:
            cmd += ["--cpus", ",".join(map(str, sorted(cpus)))]
        env = {**os.environ, "GLOG_minloglevel": "2"}
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env, bufsize=1)
        self.ready = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            err = (self._proc.stderr.read() if self._proc.stderr else "").strip().splitlines()
            raise RuntimeError(f"bench inference {self.name} failed: {err[-1:]}")
        return json.loads(line)

    def turn(self, count: int) -> tuple[float, float]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{count}\n")
        got = self._answer()
        return got["wall"], got["cpu"]

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("0\n")
                self._proc.stdin.close()
                self.final = self._answer()
                self._proc.wait(timeout=30)
            except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError):
                self._proc.kill()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


def side_by_side(video: Path, model: Path, backends: tuple[str, ...], frames: int, width: int, height: int,
                 cpus: set[int] | None) -> dict[str, dict[str, Any]]:
    """Per backend, the `inference` figures `bench` reports: CPU and wall ms per frame (LiteRT's
    with 1 and 2 threads), peak RSS, and the lowest, median and highest turn's ratio to
    mediapipe's (the spread one figure hides)."""
    first = {min(cpus)} if cpus else None
    children: list[Child] = []
    try:
        for name in contender_names(backends):
            children.append(Child(name, video, model, frames, width, height, cpus if name.endswith("_2t") else first))
        tallies = take_turns(children, frames)  # type: ignore[arg-type]
    finally:
        for c in children:
            c.close()
    ref = next((t for t in tallies if t.name == "mediapipe"), None)
    out: dict[str, dict[str, Any]] = {}
    for t, child in zip(tallies, children):
        backend, _, threads = t.name.partition("_")
        suffix = f"_{threads}" if threads else ""
        entry = out.setdefault(backend, {"mode": "inference", "frames": frames, "turn_frames": CHUNK})
        entry[f"pure_inference_ms{suffix}"] = 1000 * t.cpu / t.frames
        entry[f"pure_inference_wall_ms{suffix}"] = 1000 * t.wall / t.frames
        entry[f"cpus{suffix}"] = child.ready["cpus"]
        entry[f"peak_rss_mb{suffix}"] = getattr(child, "final", {}).get("peak_rss_mb")
        if ref is not None and t is not ref:
            ratios = [a / b for a, b in zip(t.turns, ref.turns)]
            entry[f"ratio_turns{suffix}"] = [round(min(ratios), 3), round(float(np.median(ratios)), 3),
                                             round(max(ratios), 3)]
    return out


def _serve(argv: list[str]) -> int:
    """The child: loads its contender, says it is ready, then runs the frames it is told to."""
    p = argparse.ArgumentParser()
    p.add_argument("name", choices=tuple(STEPS))
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--cpus")
    a = p.parse_args(argv)
    from core.cpus import pin_cpus

    cpus = sorted(pin_cpus(a.cpus)) if a.cpus else "all"  # before any thread, so all inherit it
    images = read_frames(a.video, a.frames, a.width, a.height)
    step, close = STEPS[a.name](a.model)
    me = Local(a.name, step, images, close)
    print(json.dumps({"ready": a.name, "cpus": cpus}), flush=True)
    try:
        for line in sys.stdin:
            count = int(line)
            if count <= 0:
                break
            wall, cpu = me.turn(count)
            print(json.dumps({"wall": wall, "cpu": cpu}), flush=True)
    finally:
        me.close()
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))
