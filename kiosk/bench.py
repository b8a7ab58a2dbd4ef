"""`smile-mirror bench`: the real app loop on a video, measured, beside a naive loop of our own.

Each mode runs in its own child process pinned to the CPUs given, so CPU time and peak RSS
belong to that mode alone, and all modes run side by side in one invocation (these machines are
noisy: compare ratios from one run, not figures from different runs). Modes:

- `pipeline`: what the kiosk does: the camera's small stream (a 640x480 recording), inference
  in a worker thread, the frame-skipping scheduler, the newest frame displayed.
- `naive`: every frame scored synchronously at full resolution (a 1280x960 recording of the
  same scene, as a camera at its full mode delivers), then displayed.
- `display-small` / `display-full`: the same loops with scoring switched off, to separate
  inference's marginal cost from capture and drawing.
- `inference`: the bare landmarkers on the small frames, no app at all ("pure inference"), each
  in its own process, taking turns of 30 frames (`kiosk.bench_inference`).

CPU per scored frame = (mode CPU - its display-only CPU) / scored frames: what scoring a frame
costs the app, to compare with pure inference. The window is `--screen` pixels (1920x1080 by
default) and everything is drawn at that size; on SDL's dummy driver the CPU composes it
(kiosk.canvas), including the camera picture's upscale, which a Pi's GPU does for free, so
display figures here are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.cpus import parse_cpus, pin_cpus
from core.scheduler import Scheduler
from kiosk.bench_inference import peak_rss_mb, side_by_side

MODES = ("pipeline", "naive", "display-small", "display-full", "inference")
# `--group`: group mode (up to 4 faces) on the same one-visitor video as `pipeline`;
# `group` detects newcomers twice a second (core.multiface), `group-fixed` is one landmarker
# made with num_faces=4, whose detector runs on every frame while fewer than 4 faces are there.
GROUP_MODES = ("group", "group-fixed")
# `--exporters`: `pipeline` beside `exporters` (the same loop with Prometheus, scraped once a
# second, and MQTT to a real local Mosquitto, publishing once a second), interleaved twice.
EXPORTER_MODES = ("pipeline", "exporters")
# `--share`: photo booth mode with the share server off against on, while a "phone" fetches every
# shared photo's page and JPEG once a second (as guests' phones do), interleaved twice.
SHARE_MODES = ("booth", "booth-share")
# Each side-by-side comparison: its two modes and what the second adds.
PAIRS = {"exporters": (EXPORTER_MODES, "Prometheus scraped every second, MQTT to Mosquitto on loopback"),
         "share": (SHARE_MODES, "the share server on, a phone fetching every shared page and photo each second")}
# `--on-screen`: the children draw on the real screen, fullscreen, through SDL's own choice of
# video driver and renderer (kmsdrm and the GPU on a Pi's console), instead of SDL's dummy
# driver composed by the CPU: the display figures then are the kiosk's own.
ON_SCREEN_ENV = "SMILE_BENCH_ON_SCREEN"
COLUMNS = ("displayed_fps", "scores_per_s", "cpu_ms_per_displayed_frame", "cpu_ms_per_scored_frame",
           "pure_inference_ms", "latency_p50_ms", "latency_p95_ms", "frames_skipped", "peak_rss_mb", "cpu_share")


def make_bench_video(path: Path, cache: Path | None, seconds: float = 10.0, size: tuple[int, int] = (1280, 960)) -> Path:
    """A real face (the demo's portrait, moving) recorded at `size`, 30 fps, MJPG."""
    import cv2

    from core.sources.demo import DemoSource

    demo = DemoSource(size=size, fps=30, pace=False, cache=cache)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, size)
    for _ in range(int(seconds * 30)):
        writer.write(cv2.cvtColor(demo.read().rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def machine() -> str:
    """The CPU by name: x86 says "model name", a Raspberry Pi says "Model" (the board)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or fields.get("Model") or platform.processor()
    return f"{platform.machine()} {name} ({os.cpu_count()} CPUs)"


# ---- child side -------------------------------------------------------------------------------

def run_child(mode: str, video: Path, model: Path, frames: int, pace: bool, width: int, height: int,
              screen: tuple[int, int] = (1920, 1080), backend: str = "mediapipe", threads: int = 1) -> dict[str, Any]:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from core.landmarker import MediapipeLandmarker
    from core.sources import VideoFileSource

    from core.config import Config
    from kiosk.app import App
    from kiosk.build import build_app
    from kiosk.display import PygameDisplay

    full = mode in ("naive", "display-full")
    size = (10_000, 10_000) if full else (width, height)
    probe = VideoFileSource(video, size=size, pace=False)
    frame_size = probe.read().size
    probe.close()
    scheduler = EveryFrame() if mode == "naive" else NeverScore() if mode.startswith("display") else None
    on_screen = os.environ.get(ON_SCREEN_ENV) == "1"
    display = PygameDisplay(fullscreen=on_screen, window=screen)
    screen, shown_on = display.size, display.describe()
    config = Config().replace({"run.frames": frames, "model.backend": backend, "pipeline.threads": threads})
    scraper = None
    if mode == "exporters":
        config, scraper = _exporters_on(config)
    if mode in SHARE_MODES:
        config, scraper = _booth_on(config, share=mode == "booth-share")
    landmarker, group_mode = None, None
    if mode in GROUP_MODES:
        from kiosk.group import Group
        from kiosk.modes.group import GroupMode

        group_mode = GroupMode(Group(max_faces=4))  # counts nothing to disk
        config = config.replace({"run.mode": "group", "pipeline.max_faces": 4})
        if mode == "group-fixed":
            from core.backends import make_landmarker

            landmarker = make_landmarker(model, backend=backend, max_faces=4, threads=threads)
    elif mode == "naive":  # the official sample's way: the bare landmarker on every full frame
        landmarker = MediapipeLandmarker(model)
    if scraper is not None:
        scraper.start()
    app = build_app(config, model, display=display, landmarker=landmarker, scheduler=scheduler, mode=group_mode,
                    open_source=lambda: VideoFileSource(video, size=size, pace=pace, loop=True),
                    synchronous=mode == "naive", app_class=_display_only_app() if mode.startswith("display") else App)
    cpu0, wall0 = time.process_time(), time.monotonic()
    app.run()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    s, st = app.stats, app.scheduler.stats
    lat = np.array(s.latencies_ms) if s.latencies_ms else np.array([np.nan])
    extra = _extra_counts(mode, config)
    if mode in SHARE_MODES:
        shutil.rmtree(config.run.state_dir, ignore_errors=True)
    return {
        "mode": mode, "frames": s.displayed, "scored": s.readings, "cpu_s": cpu, "wall_s": wall,
        "displayed_fps": s.displayed / wall, "scores_per_s": s.readings / wall,
        "cpu_ms_per_displayed_frame": 1000 * cpu / max(1, s.displayed),
        "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p95_ms": float(np.percentile(lat, 95)),
        "frames_skipped": st.skipped_busy + st.skipped_rate, "peak_rss_mb": peak_rss_mb(),
        "cpu_share": cpu / wall, "frame_size": list(frame_size), "screen": list(screen),
        "present_cpu_ms_per_frame": 1000 * display.present_cpu_s / max(1, s.displayed),
        "display": shown_on,
        "extra": extra,
    }


def _extra_counts(mode: str, config) -> dict[str, int]:
    """What a paired mode did besides drawing: photos taken, pages served (so a figure without them
    is visibly not the comparison it claims)."""
    if mode not in SHARE_MODES:
        return {}
    state = Path(config.run.state_dir)
    photos = sum(1 for _ in state.rglob("*.jpg"))
    tokens = 0
    try:
        tokens = len(json.loads((state / "share-tokens.json").read_text()))
    except (OSError, ValueError):
        pass
    return {"photos": photos, "shared": tokens}


class EveryFrame(Scheduler):
    """The naive loop's policy: every frame is scored, whatever it costs."""

    def offer(self, now_ms: float, busy: bool, rgb: np.ndarray | None = None, *, every_frame: bool = False) -> bool:
        self.stats.offered += 1
        self.stats.submitted += 1
        return True


class NeverScore(Scheduler):
    """The display-only loops' policy: nothing is scored."""

    def offer(self, now_ms: float, busy: bool, rgb: np.ndarray | None = None, *, every_frame: bool = False) -> bool:
        self.stats.offered += 1
        self.stats.skipped_rate += 1
        return False


def _display_only_app():
    from kiosk.app import App
    from core.types import SmileKind, SmileReading

    class DisplayOnly(App):
        """Draws the same mirror screen as a scored run, from a fixed reading, never scoring."""

        def _consume(self) -> None:
            self.reading = SmileReading(t_ms=0.0, score=72.0, kind=SmileKind.GENUINE, eye_engagement=61.0,
                                        box=(0.4, 0.2, 0.6, 0.5), raw_score=72.0)

    return DisplayOnly


def _exporters_on(config):
    """Both exporters on, as a venue runs them, and a thread scraping /metrics once a second."""
    import socket
    import threading
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    overrides: dict[str, Any] = {"metrics.enabled": True, "metrics.port": port}
    if os.environ.get("SMILE_BENCH_MQTT_PORT"):
        overrides.update({"mqtt.enabled": True, "mqtt.host": "127.0.0.1", "mqtt.interval_s": 1.0,
                          "mqtt.port": int(os.environ["SMILE_BENCH_MQTT_PORT"]), "mqtt.node": "bench"})

    def scrape() -> None:
        while True:
            time.sleep(1.0)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
            except OSError:
                pass

    return config.replace(overrides), threading.Thread(target=scrape, daemon=True)


def _booth_on(config, *, share: bool):
    """Photo booth mode taking photos into a temporary folder; with `share`, the share server on
    a free loopback port and a thread that fetches every shared page and photo once a second."""
    import socket
    import threading
    import urllib.request

    state = Path(tempfile.mkdtemp(prefix="smile-bench-booth-"))
    overrides: dict[str, Any] = {"run.mode": "photobooth", "run.state_dir": str(state), "booth.countdown": 0,
                                 "booth.review_s": 1.0, "booth.cooldown_s": 0.5}
    if not share:
        return config.replace(overrides), None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    overrides.update({"booth.share": True, "booth.share_host": "127.0.0.1", "booth.share_port": port})

    def phone() -> None:
        while True:
            time.sleep(1.0)
            try:
                tokens = json.loads((state / "share-tokens.json").read_text())
            except (OSError, ValueError):
                continue
            for token in tokens:
                for path in ("", "/photo.jpg"):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/p/{token}{path}", timeout=2).read()
                    except OSError:
                        pass

    return config.replace(overrides), threading.Thread(target=phone, daemon=True)


def _mosquitto(tmp: Path):
    """A local broker for `--exporters` (None where mosquitto is not installed)."""
    import shutil
    import socket

    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None:
        return None, None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, port


def run_pair_bench(pair: str, *, video: Path | None, model: Path, cache: Path | None, frames: int, pace: bool,
                   cpus: str | None, width: int, height: int, screen: tuple[int, int], out=sys.stdout,
                   as_json: bool = False) -> int:
    """CPU per displayed frame of one of PAIRS, without against with, side by side, A B A B."""
    modes, what = PAIRS[pair]
    with tempfile.TemporaryDirectory(prefix="smile-bench-") as tmp:
        small = video or make_bench_video(Path(tmp) / f"face-{width}x{height}.avi", cache, size=(width, height))
        broker, port = _mosquitto(Path(tmp)) if pair == "exporters" else (None, None)
        if port:
            os.environ["SMILE_BENCH_MQTT_PORT"] = str(port)
        try:
            runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
            for _ in range(2):
                for mode in modes:
                    runs[mode].append(_spawn(mode, small, model, frames, pace, cpus, width, height, screen))
        finally:
            os.environ.pop("SMILE_BENCH_MQTT_PORT", None)
            if broker is not None:
                broker.terminate()
                broker.wait(10)
    per_frame = {m: 1000 * sum(r["cpu_s"] for r in rs) / max(1, sum(r["frames"] for r in rs))
                 for m, rs in runs.items()}
    fps = {m: sum(r["displayed_fps"] for r in rs) / len(rs) for m, rs in runs.items()}
    p95 = {m: max(r["latency_p95_ms"] for r in rs) for m, rs in runs.items()}
    off, on = modes
    report = {"machine": machine(), "cpus": cpus or "all", "pace": "real-time" if pace else "as-fast-as-possible",
              "frames": frames, "compared": pair, "adds": what, "cpu_ms_per_displayed_frame": per_frame,
              "displayed_fps": fps, "latency_p95_ms": p95, "extra": {m: [r.get("extra", {}) for r in rs]
                                                                    for m, rs in runs.items()},
              "on_over_off_pct": 100 * (per_frame[on] / per_frame[off] - 1)}
    if pair == "exporters":
        report["mqtt"] = "mosquitto on loopback" if port else "none (mosquitto not installed)"
        what = what if port else what.replace("MQTT to Mosquitto on loopback", "no MQTT (mosquitto not installed)")
    if as_json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print(f"Smile Mirror {pair} overhead on {report['machine']}, CPUs {report['cpus']}, {report['pace']}, "
              f"2 x {frames} frames per mode, interleaved; {on} adds {what}", file=out)
        for m in modes:
            extra = "".join(f", {k} {v}" for k, v in _summed_extra(runs[m]).items())
            print(f"  {m:<11} {per_frame[m]:.2f} CPU ms / displayed frame at {fps[m]:.1f} fps, "
                  f"latency p95 {p95[m]:.0f} ms{extra}", file=out)
        print(f"  {on} vs {off}: {report['on_over_off_pct']:+.1f}% CPU per displayed frame", file=out)
    return 0


def _summed_extra(runs: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for r in runs:
        for k, v in r.get("extra", {}).items():
            total[k] = total.get(k, 0) + int(v)
    return total


# ---- parent side ------------------------------------------------------------------------------

BACKEND_MODES = ("pipeline", "inference") + GROUP_MODES  # run once per backend; the others once in all
CHILD_MODES = tuple(m for m in MODES if m != "inference")  # `inference` runs in kiosk.bench_inference's children


def run_bench(*, video: Path | None, model: Path, cache: Path | None, frames: int, pace: bool, cpus: str | None,
              width: int, height: int, as_json: bool, out=sys.stdout, group: bool = False,
              screen: tuple[int, int] = (1920, 1080), backends: tuple[str, ...] = ("mediapipe",),
              threads: int = 1) -> int:
    with tempfile.TemporaryDirectory(prefix="smile-bench-") as tmp:
        if video is None:
            small = make_bench_video(Path(tmp) / f"face-{width}x{height}.avi", cache, size=(width, height))
            full = make_bench_video(Path(tmp) / "face-1280x960.avi", cache)
            described = f"the demo face recorded at {width}x{height} (pipeline) and 1280x960 (naive), 30 fps MJPG"
        else:
            small = full = video
            described = str(video)
        wanted = MODES + (GROUP_MODES if group else ())
        shared = {mode: _spawn(mode, full if mode in ("naive", "display-full") else small, model, frames, pace,
                               cpus, width, height, screen) for mode in wanted if mode not in BACKEND_MODES}
        per_backend = {b: {mode: _spawn(mode, small, model, frames, pace, cpus, width, height, screen, b, threads)
                           for mode in wanted if mode in BACKEND_MODES and mode != "inference"} for b in backends}
        # the backends' bare inference, each in its own process, in turns, so drift hits all alike
        inference = side_by_side(small, model, backends, frames, width, height, parse_cpus(cpus) if cpus else None)
        for b in backends:
            per_backend[b]["inference"] = inference[b]
    reports = []
    for b in backends:
        table = summarise({**shared, **per_backend[b]})
        report = {"machine": machine(), "cpus": cpus or "all", "pace": "real-time" if pace else "as-fast-as-possible",
                  "frames": frames, "video": described, "model": f"{model.name} ({_variant_of(model)})",
                  "backend": b, "threads": threads if b == "litert" else 1,
                  "modes": table["modes"], "ratio_naive_over_pipeline": table["ratio"],
                  "inference": per_backend[b]["inference"]}
        if group:
            report["ratio_group_over_pipeline"] = table["group_ratio"]
        reports.append(report)
    if as_json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"backends": reports}, indent=2), file=out)
    else:
        print("\n\n".join(format_table(r) for r in reports), file=out)
        if len(reports) > 1:
            print(format_backends(reports), file=out)
    return 0


def format_backends(reports: list[dict[str, Any]]) -> str:
    """The backends side by side: pure inference per tracked frame (1 and 2 threads), the app's
    CPU per displayed frame, latency and peak RSS."""
    ref = next((r for r in reports if r["backend"] == "mediapipe"), reports[0])
    ref_ms = ref["inference"].get("pure_inference_wall_ms") or ref["inference"]["pure_inference_ms"]
    lines = ["backends side by side (same video, same run):"]
    for r in reports:
        inf, p = r["inference"], r["modes"]["pipeline"]
        text = (f"  {r['backend']:<9} pure inference {inf['pure_inference_ms']:.2f} CPU ms "
                f"({inf.get('pure_inference_wall_ms', float('nan')):.2f} wall ms, "
                f"{inf.get('pure_inference_wall_ms', inf['pure_inference_ms']) / ref_ms:.2f}x mediapipe{_spread(inf, '')})")
        if "pure_inference_wall_ms_2t" in inf:
            text += (f"; 2 threads {inf['pure_inference_wall_ms_2t']:.2f} wall ms "
                     f"({inf['pure_inference_wall_ms_2t'] / ref_ms:.2f}x{_spread(inf, '_2t')}), "
                     f"{inf['pure_inference_ms_2t']:.2f} CPU ms")
            if isinstance(inf.get("cpus_2t"), list) and len(inf["cpus_2t"]) < 2:
                text += " (both threads on one CPU: give --cpus 0-1 to see two)"
        seam = ref["inference"].get("pure_inference_wall_ms_seam")
        if seam and r is not ref:
            text += (f"; like for like (both backends' FaceObservations): {inf['pure_inference_wall_ms'] / seam:.2f}x"
                     + (f", 2 threads {inf['pure_inference_wall_ms_2t'] / seam:.2f}x" if "pure_inference_wall_ms_2t" in inf
                        else "") + " the mediapipe backend's")
        elif seam:
            text += f"; as the mediapipe backend (results made FaceObservations) {seam:.2f} wall ms"
        text += (f"; app {p['cpu_ms_per_displayed_frame']:.2f} CPU ms/displayed frame, latency p50/p95 "
                 f"{p['latency_p50_ms']:.1f}/{p['latency_p95_ms']:.1f} ms, peak RSS {p['peak_rss_mb']:.0f} MB")
        for mode in GROUP_MODES:
            if mode in r["modes"]:
                g = r["modes"][mode]
                text += f"; {mode} {g['cpu_ms_per_displayed_frame']:.2f} CPU ms/frame, RSS {g['peak_rss_mb']:.0f} MB"
        lines.append(text)
    return "\n".join(lines)


def _spread(inf: dict[str, Any], suffix: str) -> str:
    """', turns 0.80-0.95x': the lowest and highest ratio of the 30-frame turns, where measured."""
    turns = inf.get(f"ratio_turns{suffix}")
    return f", turns {turns[0]:.2f}-{turns[2]:.2f}x" if turns else ""


def _variant_of(model: Path) -> str:
    """Which Face Landmarker variant the run used (`model.variant` resolved by core/variants.py)."""
    from core.variants import describe

    return describe(model)


def _spawn(mode: str, video: Path, model: Path, frames: int, pace: bool, cpus: str | None, width: int,
           height: int, screen: tuple[int, int] = (1920, 1080), backend: str = "mediapipe",
           threads: int = 1) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "kiosk.bench", "--child", mode, "--video", str(video), "--model", str(model),
           "--frames", str(frames), "--width", str(width), "--height", str(height),
           "--screen", f"{screen[0]}x{screen[1]}", "--backend", backend,
           "--threads", str(threads)] + ([] if pace else ["--no-pace"])
    if cpus:
        cmd += ["--cpus", cpus]
    env = {**os.environ, "GLOG_minloglevel": "2"}
    if env.get(ON_SCREEN_ENV) != "1":
        env["SDL_VIDEODRIVER"] = "dummy"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"bench mode {mode} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pure = results["inference"]["pure_inference_ms"]
    modes = {}
    pairs = [("pipeline", "display-small"), ("naive", "display-full")]
    pairs += [(mode, "display-small") for mode in GROUP_MODES if mode in results]
    for mode, display in pairs:
        r, d = results[mode], results[display]
        marginal = r["cpu_s"] - d["cpu_s"] / max(1, d["frames"]) * r["frames"]
        row = {k: r[k] for k in COLUMNS if k in r}
        row["cpu_ms_per_scored_frame"] = 1000 * marginal / max(1, r["scored"])
        row["pure_inference_ms"] = pure
        row["overhead_pct"] = 100 * (row["cpu_ms_per_scored_frame"] - pure) / pure
        row["frame_size"] = "x".join(map(str, r["frame_size"]))
        modes[mode] = row
    for display in ("display-small", "display-full"):
        modes[display] = {k: results[display][k] for k in ("displayed_fps", "cpu_ms_per_displayed_frame",
                                                           "peak_rss_mb", "cpu_share", "present_cpu_ms_per_frame",
                                                           "screen", "display") if k in results[display]}
    ratio = {"cpu_ms_per_displayed_frame": modes["naive"]["cpu_ms_per_displayed_frame"]
             / modes["pipeline"]["cpu_ms_per_displayed_frame"]}
    group_ratio = {mode: {"cpu_ms_per_displayed_frame": modes[mode]["cpu_ms_per_displayed_frame"]
                          / modes["pipeline"]["cpu_ms_per_displayed_frame"],
                          "cpu_ms_per_scored_frame": modes[mode]["cpu_ms_per_scored_frame"]
                          / modes["pipeline"]["cpu_ms_per_scored_frame"]}
                   for mode in GROUP_MODES if mode in modes}
    return {"modes": modes, "ratio": ratio, "group_ratio": group_ratio}


def format_table(report: dict[str, Any]) -> str:
    shown = ("pipeline", "naive") + tuple(m for m in GROUP_MODES if m in report["modes"])
    rows = [("", *shown)]
    labels = {
        "frame_size": "inference input", "displayed_fps": "displayed fps", "scores_per_s": "score updates/s",
        "cpu_ms_per_displayed_frame": "CPU ms / displayed frame", "cpu_share": "CPU share of the pinned core(s)",
        "cpu_ms_per_scored_frame": "CPU ms / scored frame", "pure_inference_ms": "pure inference ms (same run)",
        "overhead_pct": "overhead around inference %", "latency_p50_ms": "score latency p50 ms",
        "latency_p95_ms": "score latency p95 ms", "frames_skipped": "frames skipped", "peak_rss_mb": "peak RSS MB",
    }
    for key, label in labels.items():
        cells = []
        for mode in shown:
            v = report["modes"][mode].get(key)
            cells.append(v if isinstance(v, str) else f"{v:.2f}" if isinstance(v, float) else str(v))
        rows.append((label, *cells))
    width = max(len(r[0]) for r in rows)
    lines = [f"Smile Mirror bench on {report['machine']}, CPUs {report['cpus']}, {report['pace']}, "
             f"{report['frames']} frames, model {report['model']}, backend {report.get('backend', 'mediapipe')} "
             f"({report.get('threads', 1)} thread(s))", f"video: {report['video']}"]
    lines += [f"{row[0]:<{width}}" + "".join(f"  {c:>12}" for c in row[1:]) for row in rows]
    for name in ("display-small", "display-full"):
        d = report["modes"][name]
        lines.append(f"({name} loop, no scoring: {d['cpu_ms_per_displayed_frame']:.2f} CPU ms / frame at "
                     f"{d['displayed_fps']:.1f} fps on a {d['screen'][0]}x{d['screen'][1]} screen "
                     f"({d.get('display', '?')}), of which {d['present_cpu_ms_per_frame']:.2f} ms in SDL's present: "
                     f"where a renderer rasterises what was queued)")
    lines.append(f"naive / pipeline CPU per displayed frame: {report['ratio_naive_over_pipeline']['cpu_ms_per_displayed_frame']:.2f}x")
    for mode, r in report.get("ratio_group_over_pipeline", {}).items():
        lines.append(f"{mode} / pipeline CPU per displayed frame: {r['cpu_ms_per_displayed_frame']:.2f}x, "
                     f"per scored frame: {r['cpu_ms_per_scored_frame']:.2f}x")
    return "\n".join(lines)


def _child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--child", choices=CHILD_MODES + GROUP_MODES + EXPORTER_MODES[1:] + SHARE_MODES, required=True)
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--no-pace", dest="pace", action="store_false")
    p.add_argument("--cpus")
    p.add_argument("--screen", default="1920x1080")
    p.add_argument("--backend", default="mediapipe", choices=("litert", "mediapipe"))
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.cpus:  # before any thread exists, so every thread inherits it
        pin_cpus(a.cpus)
    screen = tuple(int(v) for v in a.screen.lower().split("x"))
    result = run_child(a.child, a.video, a.model, a.frames, a.pace, a.width, a.height, screen,  # type: ignore[arg-type]
                       a.backend, a.threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
