"""The accuracy gate: a Face Landmarker variant measured against the official float model.

On real faces: landmark deviation as a share of the inter-ocular distance, faces lost, Smile
Score and eye-engagement change, smile AUC. Limits in `LIMITS` (documented in
core/VARIANTS.md). Builds are reproducible, so a gate measured on ../shared/data is kept by
SHA-256 in the committed, read-only `variant_gate.json` beside this file, and a device whose
build gives the same bytes inherits it; different bytes need `model build --data` to gate.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.errors import ModelError

log = logging.getLogger(__name__)

# Shipped with the package and only read by it; `model build --record FILE` writes a record.
GATE_RECORD = Path(__file__).with_name("variant_gate.json")


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
    backend: str = "mediapipe"  # the runtime both models were measured on (older records: mediapipe)

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
    from core.offline.evaluate import subset
    from core.offline.train_scorer import read_labels

    rows = read_labels(data_dir)[0::2]
    return subset(rows, limit, seed=5)


def observe(model: Path, images: Sequence[np.ndarray], backend: str = "mediapipe") -> list[Any]:
    """The first face `model` finds in each image (None where it finds none), on `backend`."""
    from core.backends import make_landmarker

    lm = make_landmarker(model, backend=backend, still=True)
    try:
        return [(lm.detect(rgb, 0.0) or [None])[0] for rgb in images]
    finally:
        lm.close()


def compare(variant: str, official_obs: Sequence[Any], variant_obs: Sequence[Any], labels: Sequence[bool],
            data: str, limits: Limits = LIMITS) -> GateResult:
    from core.offline.train_scorer import auc
    from core.scoring import load_model, score_face

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
                  limits: Limits = LIMITS, backend: str = "mediapipe") -> dict[str, GateResult]:
    """Gate each variant file against the official model on `limit` labelled photos of `data_dir`,
    both run on `backend` (the runtime the device will run the variant on)."""
    from core.offline.train_scorer import load_rgb

    rows = gate_rows(data_dir, limit)
    images, labels = [], []
    for row in rows:
        rgb = load_rgb(data_dir / row["path"])
        if rgb is not None:
            images.append(rgb), labels.append(row["label"] == "smile")
    ref = observe(official, images, backend)
    data = f"{data_dir.name}: {len(images)} photos (even rows of labels.csv)"
    out = {}
    for name, path in variants.items():
        try:
            obs = observe(path, images, backend)
        except ModelError as exc:
            log.warning("variant %s does not load: %s", name, exc)
            obs = [None] * len(images)
        out[name] = replace(compare(name, ref, obs, labels, data, limits), backend=backend)
    return out


def gate_entry(result: GateResult | dict[str, Any]) -> dict[str, Any]:
    return asdict(result) if isinstance(result, GateResult) else dict(result)


def recorded_gate(sha256: str, record: Path = GATE_RECORD) -> dict[str, Any] | None:
    """The gate result recorded for a build with exactly these bytes, if any."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("builds", {}).get(sha256) if isinstance(data, dict) else None


def write_record(path: Path, builds: dict[str, dict[str, Any]]) -> Path:
    """Add gate results by build SHA-256 to the record at `path` (a developer commits the one
    beside this module, so devices building the same bytes inherit them)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    record["about"] = ("Accuracy-gate results of variant builds, by SHA-256 of the built .task; written by "
                       "`smile-mirror model build --data ../shared/data/genki4k-dev --record "
                       "core/offline/variant_gate.json`. A device whose build gives the same bytes inherits the "
                       "result. Limits: " + json.dumps(asdict(LIMITS)))
    record.setdefault("builds", {}).update(builds)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
