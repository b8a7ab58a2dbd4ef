"""Face Landmarker variants at run time: which exist, which may be used, and picking one.

The variants (`float32`, `int8-weights`, `int8`) are built from the verified official bundle by
`smile-mirror model build` (build tools in their own venv, `core/model_build/`, never imported
here). This module needs only numpy, mediapipe (lazily) and the stdlib:

- the **manifest** `variants.json` beside the official model in the cache: per variant its
  SHA-256 and its accuracy-gate result. A variant file is used only if its bytes match the
  manifest, the manifest was made from the official model, and the gate passed; otherwise the
  kiosk warns and uses the official model (a failing variant is never selected).
- the **gate** (`gate_variant`): the variant against the official float model on real faces:
  landmark deviation / inter-ocular distance, faces lost, Smile Score and eye-engagement change,
  smile AUC. Limits in `LIMITS` (documented in core/VARIANTS.md). Builds are reproducible, so a
  gate measured here on ../shared/data is recorded by SHA-256 in `core/variant_gate.json` and a
  device whose build gives the same bytes inherits it; different bytes need `--data` to gate.
- **tune** (`tune`): times each usable variant inside the real pipeline (the demo face through
  the real landmarker in VIDEO mode and the scorer), interleaved, and writes the fastest into a
  config file as `model.variant`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from core import assets
from core.errors import ConfigError, ModelError
from core.safe_io import read_regular

log = logging.getLogger(__name__)

OFFICIAL = "official"
VARIANTS = ("float32", "int8-weights", "int8")
CHOICES = (OFFICIAL, *VARIANTS)
MANIFEST = "variants.json"
GATE_RECORD = Path(__file__).with_name("variant_gate.json")
# the official bundle's accuracy ranks first; among equally fast choices the more exact one wins
PREFERENCE = {OFFICIAL: 0, "float32": 1, "int8-weights": 2, "int8": 3}


def variant_filename(variant: str) -> str:
    return assets.MODEL.filename if variant == OFFICIAL else f"face_landmarker-{variant}.task"


# ---- the accuracy gate ------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """A variant passes when every figure is within these (measured against the official model)."""

    landmark_dev_mean_pct: float = 2.0   # mean landmark deviation, % of inter-ocular distance
    landmark_dev_p95_pct: float = 4.0    # 95th percentile over faces of the per-face mean
    faces_lost_pct: float = 0.5          # faces the official model finds and the variant does not
    score_change_mean: float = 2.0       # mean |change| of the Smile Score (0-100 points)
    eye_change_mean: float = 3.0         # mean |change| of eye engagement (0-100 points)
    auc_drop: float = 0.01               # smile AUC (smile vs neutral) lost


LIMITS = Limits()
IOD = (33, 263)  # outer eye corners: the usual inter-ocular distance


@dataclass
class GateResult:
    variant: str
    photos: int
    faces: int               # faces the official model found
    faces_lost: int
    faces_gained: int
    landmark_dev_mean_pct: float
    landmark_dev_p95_pct: float
    score_change_mean: float
    score_change_p95: float
    eye_change_mean: float
    auc_official: float
    auc_variant: float
    data: str
    passed: bool = False
    failures: tuple[str, ...] = ()

    def check(self, limits: Limits = LIMITS) -> "GateResult":
        fails = []
        lost_pct = 100.0 * self.faces_lost / max(1, self.faces)
        for name, value, limit in (
                ("landmark deviation mean %", self.landmark_dev_mean_pct, limits.landmark_dev_mean_pct),
                ("landmark deviation p95 %", self.landmark_dev_p95_pct, limits.landmark_dev_p95_pct),
                ("faces lost %", lost_pct, limits.faces_lost_pct),
                ("Smile Score change", self.score_change_mean, limits.score_change_mean),
                ("eye engagement change", self.eye_change_mean, limits.eye_change_mean),
                ("smile AUC drop", self.auc_official - self.auc_variant, limits.auc_drop)):
            if not (value <= limit):  # NaN fails too
                fails.append(f"{name} {value:.3f} > {limit:g}")
        self.failures, self.passed = tuple(fails), not fails
        return self

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL (" + "; ".join(self.failures) + ")"
        return (f"{self.variant}: {verdict}: landmarks {self.landmark_dev_mean_pct:.2f}% IOD mean, "
                f"{self.landmark_dev_p95_pct:.2f}% p95; faces lost {self.faces_lost}/{self.faces}; "
                f"score change {self.score_change_mean:.2f} (p95 {self.score_change_p95:.2f}); "
                f"eye change {self.eye_change_mean:.2f}; smile AUC {self.auc_official:.4f} -> {self.auc_variant:.4f}")


def gate_rows(data_dir: Path, limit: int | None) -> list[dict[str, str]]:
    """The gate's photos: the even-numbered rows of labels.csv (calibration uses the odd ones),
    a fixed sample of `limit` of them."""
    from core.evaluate import subset
    from core.train_scorer import read_labels

    rows = read_labels(data_dir)[0::2]
    return subset(rows, limit, seed=5)


def _observe(model: Path, images: Sequence[np.ndarray]) -> list[Any]:
    from core.landmarker import MediapipeLandmarker

    with MediapipeLandmarker(model, still=True) as lm:
        return [(lm.detect(rgb, 0.0) or [None])[0] for rgb in images]


def compare(variant: str, official_obs: Sequence[Any], variant_obs: Sequence[Any], labels: Sequence[bool],
            data: str, limits: Limits = LIMITS) -> GateResult:
    from core.scoring import load_model, score_face
    from core.train_scorer import auc

    scorer = load_model()
    devs, dscore, deye, s_off, s_var, y = [], [], [], [], [], []
    lost = gained = faces = 0
    for a, b, lab in zip(official_obs, variant_obs, labels):
        if a is None:
            gained += b is not None
            continue
        faces += 1
        ra = score_face(a, None, scorer)
        s_off.append(ra.score), y.append(lab)
        if b is None:
            lost += 1
            s_var.append(0.0)  # a lost face reads as "no smile"
            continue
        rb = score_face(b, None, scorer)
        s_var.append(rb.score)
        w, h = a.image_size
        pa, pb = a.landmarks[:, :2] * (w, h), b.landmarks[:, :2] * (w, h)
        iod = float(np.linalg.norm(pa[IOD[0]] - pa[IOD[1]]))
        devs.append(100.0 * float(np.linalg.norm(pa - pb, axis=1).mean()) / max(iod, 1e-6))
        dscore.append(abs(ra.score - rb.score)), deye.append(abs(ra.eye_engagement - rb.eye_engagement))
    d = np.array(devs) if devs else np.array([np.nan])
    yy = np.array(y, bool)
    return GateResult(
        variant=variant, photos=len(labels), faces=faces, faces_lost=lost, faces_gained=gained,
        landmark_dev_mean_pct=float(d.mean()), landmark_dev_p95_pct=float(np.percentile(d, 95)),
        score_change_mean=float(np.mean(dscore)) if dscore else float("nan"),
        score_change_p95=float(np.percentile(dscore, 95)) if dscore else float("nan"),
        eye_change_mean=float(np.mean(deye)) if deye else float("nan"),
        auc_official=float(auc(np.array(s_off), yy)), auc_variant=float(auc(np.array(s_var), yy)), data=data,
    ).check(limits)


def gate_variants(official: Path, variants: dict[str, Path], data_dir: Path, limit: int | None = 600,
                  limits: Limits = LIMITS) -> dict[str, GateResult]:
    """Gate each variant file against the official model on `limit` labelled photos of `data_dir`."""
    from core.train_scorer import load_rgb

    rows = gate_rows(data_dir, limit)
    images, labels = [], []
    for row in rows:
        rgb = load_rgb(data_dir / row["path"])
        if rgb is not None:
            images.append(rgb), labels.append(row["label"] == "smile")
    ref = _observe(official, images)
    data = f"{data_dir.name}: {len(images)} photos (even rows of labels.csv)"
    out = {}
    for name, path in variants.items():
        try:
            obs = _observe(path, images)
        except ModelError as exc:
            log.warning("variant %s does not load: %s", name, exc)
            obs = [None] * len(images)
        out[name] = compare(name, ref, obs, labels, data, limits)
    return out


# ---- manifest ---------------------------------------------------------------------------------

def manifest_path(cache: Path) -> Path:
    return cache / MANIFEST


def read_manifest(cache: Path) -> dict[str, Any]:
    """The manifest, with every entry that is not shaped as `model build` writes it left out
    (a hand-edited or damaged file must never reach the loader or raise at start)."""
    try:
        data = json.loads(read_regular(manifest_path(cache), limit=1 << 20, what="variant manifest"))
    except (OSError, ValueError, RecursionError):
        return {"variants": {}}
    if not isinstance(data, dict) or data.get("source_sha256") != assets.MODEL.sha256:
        return {"variants": {}}
    entries = data.get("variants")
    data["variants"] = {name: entry for name, entry in (entries.items() if isinstance(entries, dict) else ())
                        if name in VARIANTS and isinstance(entry, dict) and isinstance(entry.get("gate", {}), dict)
                        and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)}
    return data


# the three TFLite models a Face Landmarker bundle holds
BUNDLE_MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")


def bundle_problem(path: Path) -> str | None:
    """Why `path` is not a Face Landmarker bundle (a zip of the three TFLite flatbuffers), or None.
    A file whose checksum matches a forged manifest is still refused here, before mediapipe."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            for member in BUNDLE_MEMBERS:
                if member not in names:
                    return f"it has no {member}"
                with zf.open(names[member]) as fh:
                    if fh.read(8)[4:8] != b"TFL3":
                        return f"its {member} is not a TFLite model"
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        return f"it is not a model bundle ({exc})"
    return None


def write_manifest(cache: Path, entries: dict[str, dict[str, Any]]) -> Path:
    data = read_manifest(cache)
    data["source_sha256"] = assets.MODEL.sha256
    data.setdefault("variants", {}).update(entries)
    path = manifest_path(cache)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def recorded_gate(sha256: str) -> dict[str, Any] | None:
    """The gate result committed for a build with exactly these bytes, if any."""
    try:
        record = json.loads(GATE_RECORD.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("builds", {}).get(sha256)


def usable(cache: Path) -> dict[str, Path]:
    """Variants in `cache` whose bytes match the manifest and whose gate passed (official first)."""
    out = {OFFICIAL: assets.cached_path(assets.MODEL, cache)}
    for name, entry in read_manifest(cache).get("variants", {}).items():
        path = cache / variant_filename(name)
        if entry.get("gate", {}).get("passed") and _matches(path, entry) and bundle_problem(path) is None:
            out[name] = path
    return out


def _matches(path: Path, entry: dict[str, Any]) -> bool:
    try:
        return path.stat().st_size == entry.get("size") and assets.sha256_of(path) == entry.get("sha256")
    except OSError:
        return False


def resolve(variant: str, cache: Path) -> Path:
    """The model file for `variant` (verified); the official model when the variant is unusable."""
    official = assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, cache), cache)
    if variant in ("", OFFICIAL):
        return official
    entry = read_manifest(cache).get("variants", {}).get(variant)
    path = cache / variant_filename(variant)
    if entry is None or not _matches(path, entry):
        log.warning("model variant %s is missing or altered in %s; using the official model "
                    "(rebuild with `smile-mirror model build`)", variant, cache)
        return official
    if not entry.get("gate", {}).get("passed"):
        log.warning("model variant %s did not pass the accuracy gate; using the official model", variant)
        return official
    problem = bundle_problem(path)
    if problem is not None:
        log.warning("model variant %s in %s is broken (%s); using the official model (rebuild with "
                    "`smile-mirror model build`)", variant, cache, problem)
        return official
    return path


def describe(model: Path) -> str:
    """'official float16' or '<variant> (built from the official model)' for a model file."""
    try:
        digest = assets.sha256_of(model)
    except OSError:
        return "unknown"
    if digest == assets.MODEL.sha256:
        return "official float16"
    for name, entry in read_manifest(model.parent).get("variants", {}).items():
        if entry.get("sha256") == digest:
            return f"variant {name}"
    return "unknown (not the official model, not a built variant)"


# ---- tune -------------------------------------------------------------------------------------

def time_variants(models: dict[str, Path], *, seconds: float = 6.0, size: tuple[int, int] = (640, 480),
                  cache: Path | None = None, rounds: int = 6, clock: Callable[[], float] = time.process_time
                  ) -> dict[str, float]:
    """CPU ms per scored frame for each model: the demo face through the real landmarker (VIDEO
    mode, tracking) and the scorer, in interleaved rounds so that load changes hit all alike.
    Returns the median over rounds per model."""
    from core.landmarker import MediapipeLandmarker
    from core.scoring import load_model, score_face
    from core.sources.demo import DemoSource

    demo = DemoSource(size=size, fps=30, pace=False, cache=cache)
    frames = [np.ascontiguousarray(demo.read().rgb) for _ in range(90)]
    demo.close()
    scorer = load_model()
    landmarkers = {name: MediapipeLandmarker(path) for name, path in models.items()}
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


def write_choice(config_path: Path, variant: str) -> None:
    """Set `model.variant` in a TOML config file, keeping everything else as it is; validated."""
    from core.config import load_config

    if variant not in CHOICES:
        raise ConfigError(f"model.variant {variant!r} is not one of {', '.join(CHOICES)}")
    text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    lines = text.splitlines()
    line = f'variant = "{variant}"'
    section = None
    start = end = None
    for i, raw in enumerate(lines):
        head = re.match(r"\s*\[([^\]]+)\]\s*(#.*)?$", raw)
        if head:
            if section == "model" and end is None:
                end = i
            section = head.group(1).strip()
            if section == "model":
                start = i
            continue
        if section == "model" and re.match(r"\s*variant\s*=", raw):
            lines[i] = line
            break
    else:
        if start is None:
            lines += ([""] if lines and lines[-1].strip() else []) + ["[model]", line]
        else:
            at = end if end is not None else len(lines)
            while at > start + 1 and not lines[at - 1].strip():
                at -= 1  # after the section's last key, not after its trailing blank lines
            lines.insert(at, line)
    new = "\n".join(lines) + "\n"
    tmp = config_path.with_name(config_path.name + ".part")
    tmp.write_text(new, encoding="utf-8")
    try:
        load_config(tmp)
    except ConfigError:
        tmp.unlink()
        raise
    tmp.replace(config_path)


def gate_entry(result: GateResult | dict[str, Any]) -> dict[str, Any]:
    return asdict(result) if isinstance(result, GateResult) else dict(result)


# ---- the commands: `smile-mirror model build` and `smile-mirror model tune` -------------------

REPO = Path(__file__).resolve().parents[1]
BUILD_PYTHON_ENV = "SMILE_MIRROR_BUILD_PYTHON"
BUILD_VENV_HINT = ("python3 -m venv .venv/build && .venv/build/bin/pip install --no-deps --require-hashes -r requirements/build.txt")


def build_python(explicit: str | None = None) -> str:
    """The interpreter that has the build tools: --build-python, $SMILE_MIRROR_BUILD_PYTHON,
    .venv/build in the repository, or this one if it has them."""
    import importlib.util
    import os
    import sys

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
    import os
    import subprocess

    env = {**os.environ, "TQDM_DISABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    # `core` is appended to the build interpreter's path, not prepended: when the program is
    # installed into a runtime venv, REPO is that venv's site-packages, whose numpy must not
    # shadow the build venv's.
    boot = ("import sys; sys.path.append(sys.argv.pop(1)); from core.model_build.build import main; "
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
              python: str | None, record: bool = False, out=None) -> int:
    import sys

    out = out or sys.stdout
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise ConfigError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    official = assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, cache), cache)
    built = run_build(official, cache, names or VARIANTS, build_python(python))
    gates: dict[str, dict[str, Any]] = {}
    if data is not None:
        results = gate_variants(official, {n: Path(b["path"]) for n, b in built.items()}, data, limit)
        gates = {n: gate_entry(r) for n, r in results.items()}
    entries = {}
    for name, b in built.items():
        gate = gates.get(name) or recorded_gate(b["sha256"])
        if gate is None:
            gate = {"passed": False, "failures": [
                "not gated: these bytes differ from every build gated in core/variant_gate.json; "
                "run `smile-mirror model build --data DIR` with labelled face photos"]}
        entries[name] = {"sha256": b["sha256"], "size": b["size"], "gate": gate}
        verdict = "passed" if gate.get("passed") else "FAILED: " + "; ".join(gate.get("failures", []))
        print(f"{name:13s} {b['size'] / 1e6:5.2f} MB  sha256 {b['sha256'][:16]}  gate {verdict}", file=out)
        if "landmark_dev_mean_pct" in gate:
            print(f"{'':13s} {GateResult(**{**gate, 'failures': tuple(gate['failures'])}).summary()}", file=out)
    write_manifest(cache, entries)
    if record:
        write_record({e["sha256"]: {"variant": n, **e["gate"]} for n, e in entries.items()
                      if "landmark_dev_mean_pct" in e["gate"]})
    return 0


def write_record(builds: dict[str, dict[str, Any]]) -> None:
    """Keep gate results by build SHA-256 in core/variant_gate.json (committed by developers)."""
    try:
        record = json.loads(GATE_RECORD.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    record["about"] = ("Accuracy-gate results of variant builds, by SHA-256 of the built .task; "
                       "written by `smile-mirror model build --data ../shared/data/genki4k-dev --record`. "
                       "A device whose build gives the same bytes inherits the result. Limits: " + json.dumps(asdict(LIMITS)))
    record.setdefault("builds", {}).update(builds)
    GATE_RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def cmd_tune(cache: Path, config_path: Path | None, *, seconds: float, cpus: str | None,
             size: tuple[int, int], out=None) -> int:
    import os
    import sys

    out = out or sys.stdout
    if cpus:  # before the landmarkers start their threads
        from kiosk.bench import parse_cpus

        os.sched_setaffinity(0, parse_cpus(cpus))
    assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, cache), cache)
    models = usable(cache)
    skipped = [n for n in VARIANTS if n not in models]
    if skipped:
        print(f"not timed (not built, altered, or failed the accuracy gate): {', '.join(skipped)}", file=out)
    timings = time_variants(models, seconds=seconds, size=size, cache=cache)
    choice = choose(timings)
    ref = timings[OFFICIAL]
    for name, ms in timings.items():
        print(f"{name:13s} {ms:6.2f} CPU ms per scored frame  speed x{ref / ms:.2f}"
              + ("  <- chosen" if name == choice else ""), file=out)
    if config_path is not None:
        write_choice(config_path, choice)
        print(f"model.variant = {choice!r} written to {config_path}", file=out)
    return 0
