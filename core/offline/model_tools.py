"""`smile-mirror model build` and `smile-mirror model tune`: making and choosing the variants.

- **build** runs core/offline/model_build/ in the build tools' own venv (never imported into
  this one), gates each variant (core/offline/gate.py) or inherits the recorded gate of
  identical bytes, and writes the manifest `variants.json` into the model cache, which is all
  the mirror reads at run time (core/variants.py).
- **tune** times each usable variant inside the real pipeline (the demo face through the real
  landmarker in VIDEO mode and the scorer), interleaved, and writes the fastest into a config
  file as `model.variant`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import numpy as np

from core import assets
from core.config import write_option
from core.cpus import pin_cpus
from core.errors import ConfigError, ModelError
from core.offline.gate import GateResult, gate_entry, gate_variants, recorded_gate, write_record
from core.variants import (MANIFEST, OFFICIAL, VARIANTS, bundle_problem, manifest_path, matches, read_manifest,
                           variant_filename)

REPO = Path(__file__).resolve().parents[2]
BUILD_PYTHON_ENV = "SMILE_MIRROR_BUILD_PYTHON"
BUILD_VENV_HINT = ("python3 -m venv .venv/build && .venv/build/bin/pip install --no-deps -r requirements/build.txt")
# the official bundle's accuracy ranks first; among equally fast choices the more exact one wins
PREFERENCE = {OFFICIAL: 0, "float32": 1, "int8-weights": 2, "int8-dynamic": 3, "int8": 4}


# ---- the manifest -----------------------------------------------------------------------------

def write_manifest(cache: Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Add or replace variants' entries in the cache's manifest (written whole, then renamed)."""
    data = read_manifest(cache)
    data["source_sha256"] = assets.MODEL.sha256
    data.setdefault("variants", {}).update(entries)
    path = manifest_path(cache)
    tmp = path.with_name(MANIFEST + ".part")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def usable(cache: Path) -> dict[str, Path]:
    """Variants in `cache` whose bytes match the manifest and whose gate passed (official first)."""
    out = {OFFICIAL: assets.cached_path(assets.MODEL, cache)}
    for name, entry in read_manifest(cache).get("variants", {}).items():
        path = cache / variant_filename(name)
        if (name in VARIANTS and entry.get("gate", {}).get("passed") and matches(path, entry)
                and bundle_problem(path) is None):
            out[name] = path
    return out


# ---- build ------------------------------------------------------------------------------------

def build_python(explicit: str | None = None) -> str:
    """The interpreter that has the build tools: --build-python, $SMILE_MIRROR_BUILD_PYTHON,
    .venv/build in the repository, or this one if it has them."""
    for candidate in (explicit, os.environ.get(BUILD_PYTHON_ENV)):
        if candidate:
            return candidate
    venv = REPO / ".venv" / "build" / "bin" / "python"
    if venv.exists():
        return str(venv)
    if importlib.util.find_spec("ai_edge_quantizer") is not None:
        return sys.executable
    raise ModelError(f"the model build tools are not installed; from {REPO} run `{BUILD_VENV_HINT}` "
                     f"(or name an interpreter that has them with --build-python)")


def run_build(official: Path, out: Path, names: Sequence[str], python: str) -> dict[str, dict[str, Any]]:
    """Build `names` into `out` with the build tools' interpreter; {variant: {path, size, sha256}}."""
    env = {**os.environ, "TQDM_DISABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    # `core` is appended to the build interpreter's path, not prepended: when the program is
    # installed into a runtime venv, REPO is that venv's site-packages, whose numpy must not
    # shadow the build venv's.
    boot = ("import sys; sys.path.append(sys.argv.pop(1)); from core.offline.model_build.build import main; "
            "sys.exit(main(sys.argv[1:]))")
    cmd = [python, "-c", boot, str(REPO), "--source", str(official), "--out", str(out), *names]
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(out))
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"building the model variants failed ({last}); see {BUILD_VENV_HINT!r} in core/VARIANTS.md")
    built = {}
    for line in done.stdout.splitlines():
        name, path, size, digest = line.split("\t")
        built[name] = {"path": path, "size": int(size), "sha256": digest}
    return built


def cmd_build(cache: Path, names: Sequence[str], *, data: Path | None, limit: int | None,
              python: str | None, record: Path | None = None, out: TextIO | None = None,
              backend: str = "mediapipe") -> int:
    """Build, gate on `backend` (with `data`) or inherit the recorded gate, write the manifest;
    with `record`, also add the measured gates to that record file."""
    out = out or sys.stdout
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise ConfigError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if record is not None and data is None:
        raise ConfigError("--record needs --data: only a gate measured on labelled photos is recorded")
    official = assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, cache), cache)
    built = run_build(official, cache, names or VARIANTS, build_python(python))
    gates: dict[str, dict[str, Any]] = {}
    if data is not None:
        results = gate_variants(official, {n: Path(b["path"]) for n, b in built.items()}, data, limit,
                                backend=backend)
        gates = {n: gate_entry(r) for n, r in results.items()}
    entries = {}
    for name, b in built.items():
        gate = gates.get(name) or recorded_gate(b["sha256"])
        if gate is None:
            gate = {"passed": False, "failures": [
                "not gated: these bytes differ from every build gated in core/offline/variant_gate.json; "
                "run `smile-mirror model build --data DIR` with labelled face photos"]}
        entries[name] = {"sha256": b["sha256"], "size": b["size"], "gate": gate}
        verdict = "passed" if gate.get("passed") else "FAILED: " + "; ".join(gate.get("failures", []))
        print(f"{name:13s} {b['size'] / 1e6:5.2f} MB  sha256 {b['sha256'][:16]}  gate {verdict}", file=out)
        if "landmark_dev_mean_pct" in gate:
            print(f"{'':13s} {GateResult(**{**gate, 'failures': tuple(gate['failures'])}).summary()}", file=out)
    write_manifest(cache, entries)
    if record is not None:
        write_record(record, {e["sha256"]: {"variant": n, **e["gate"]} for n, e in entries.items()
                              if "landmark_dev_mean_pct" in e["gate"]})
        print(f"gate results recorded in {record}", file=out)
    return 0


# ---- tune -------------------------------------------------------------------------------------

def time_variants(models: dict[str, Path], *, seconds: float = 6.0, size: tuple[int, int] = (640, 480),
                  cache: Path | None = None, rounds: int = 6, clock: Callable[[], float] = time.process_time,
                  backend: str = "mediapipe", threads: int = 1) -> dict[str, float]:
    """CPU ms per scored frame for each model: the demo face through the real landmarker of
    `backend` (VIDEO mode, tracking) and the scorer, in interleaved rounds so that load changes
    hit all alike. Returns the median over rounds per model."""
    from core.backends import make_landmarker
    from core.scoring import load_model, score_face
    from core.sources.demo import DemoSource

    demo = DemoSource(size=size, fps=30, pace=False, cache=cache)
    frames = [np.ascontiguousarray(demo.read().rgb) for _ in range(90)]
    demo.close()
    scorer = load_model()
    landmarkers = {name: make_landmarker(path, backend=backend, threads=threads) for name, path in models.items()}
    per_round = seconds / rounds / max(1, len(models))
    samples: dict[str, list[float]] = {name: [] for name in models}
    t_ms = {name: 0.0 for name in models}
    try:
        for name, lm in landmarkers.items():  # warm-up: load-time work and the first detection
            for rgb in frames[:10]:
                t_ms[name] += 33.0
                lm.detect(rgb, t_ms[name])
        for r in range(rounds):
            order = list(landmarkers) if r % 2 == 0 else list(reversed(landmarkers))
            for name in order:
                lm, n = landmarkers[name], 0
                wall_end = time.monotonic() + per_round
                c0 = clock()
                while time.monotonic() < wall_end or n < 5:
                    t_ms[name] += 33.0
                    for obs in lm.detect(frames[(n + r * 7) % len(frames)], t_ms[name])[:1]:
                        score_face(obs, None, scorer)
                    n += 1
                samples[name].append(1000.0 * (clock() - c0) / n)
    finally:
        for lm in landmarkers.values():
            lm.close()
    return {name: float(np.median(v)) for name, v in samples.items()}


def choose(timings: dict[str, float], margin: float = 0.05) -> str:
    """The fastest; a less exact variant must beat the more exact ones by `margin` to be chosen."""
    best = OFFICIAL if OFFICIAL in timings else min(timings, key=lambda n: PREFERENCE[n])
    for name in sorted(timings, key=lambda n: PREFERENCE[n]):
        if timings[name] < timings[best] * (1.0 - margin):
            best = name
    return best


def cmd_tune(cache: Path, config_path: Path | None, *, seconds: float, cpus: str | None,
             size: tuple[int, int], out: TextIO | None = None, backend: str = "mediapipe", threads: int = 1) -> int:
    out = out or sys.stdout
    if cpus:  # before the landmarkers start their threads
        pin_cpus(cpus)
    assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, cache), cache)
    models = usable(cache)
    skipped = [n for n in VARIANTS if n not in models]
    if skipped:
        print(f"not timed (not built, altered, or failed the accuracy gate): {', '.join(skipped)}", file=out)
    timings = time_variants(models, seconds=seconds, size=size, cache=cache, backend=backend, threads=threads)
    choice = choose(timings)
    ref = timings[OFFICIAL]
    print(f"timed on the {backend} backend" + (f", {threads} threads" if backend == "litert" and threads > 1 else ""),
          file=out)
    for name, ms in timings.items():
        print(f"{name:13s} {ms:6.2f} CPU ms per scored frame  speed x{ref / ms:.2f}"
              + ("  <- chosen" if name == choice else ""), file=out)
    if config_path is not None:
        write_option(config_path, "model.variant", choice)
        print(f"model.variant = {choice!r} written to {config_path}", file=out)
    return 0
