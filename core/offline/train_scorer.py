"""Train the Smile Score's logistic model on the dev photos and report cross-validated figures.

    OPENBLAS_NUM_THREADS=1 python -m core.offline.train_scorer --data /work/shared/data --cache /tmp/sm-obs \
        [--jobs 2] [--splits 3] [--backend mediapipe] [--out core/score_model.json]

Steps: (1) run the Face Landmarker of `--backend` once per photo (IMAGE mode, zooming in on
faces too small for its detector as `smile-mirror score` does: see core/zoom.py) at full size,
with the face downscaled to 64-80 px, and as a 64x64 grey face crop, caching the observations
(with their mouth patches) as .npz outside the repo, per backend; (2) turn observations into
features (`core.features`, the mouth HOG from `core.hog`); (3) fit L2-regularised logistic
regressions (numpy only, so this runs in the product's own venv) with stratified k-fold nested
cross-validation, training on full-size and small-face observations together so the model does
not lean on detail that small faces lack; (4) choose between the candidates by the rule written
in core/SCORE.md and print the figures; (5) write the weights, the scale's knots and the model
for faces without a mouth patch as a readable JSON that `core.scoring` loads.

One BLAS thread per process (`OPENBLAS_NUM_THREADS=1`) and `--jobs` processes side by side is
several times faster on shared cores than BLAS threads contending with each other.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from core.landmarker import Landmarker
from core.mouth_patch import PATCH_H, PATCH_W
from core.features import BLENDSHAPES, HOG_NAMES, face_features, mouth_hog
from core.scoring import CLIP_SD, HOG_PREFIX, MODEL_PATH
from core.types import SMILE_LINE
from core.types import FaceObservation

log = logging.getLogger(__name__)

VARIANTS = ("full", "small", "crop64g")
CACHE_VERSION = "zoom-mouth"  # observations made with the zoom (core/zoom.py), with mouth patches; change when extraction changes
SMALL_FACE_PX = (64, 80)
YAW_LIMIT_RAD = np.radians(30.0)


# ---- reading the dev sets ------------------------------------------------------------------

def read_labels(data_dir: Path) -> list[dict[str, str]]:
    """Rows of `data_dir/labels.csv` (path,label,...), paths kept relative to `data_dir`."""
    with open(data_dir / "labels.csv", newline="", encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh)]


def load_rgb(path: Path) -> np.ndarray | None:
    """An image file as HxWx3 uint8 RGB, or None if it cannot be decoded."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def small_face_target(index: int) -> float:
    """A deterministic face width in [64, 80] px for image `index` (spread evenly)."""
    lo, hi = SMALL_FACE_PX
    return lo + (index * 7919 % 17) / 16.0 * (hi - lo)


def variant_image(rgb: np.ndarray, obs: FaceObservation, variant: str, index: int) -> np.ndarray | None:
    """The photo as seen in `variant`, made from the full-size photo and its observation."""
    import cv2

    if variant == "full":
        return rgb
    pts = obs.points_px()
    x0, y0, x1, y1 = pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()
    face_w = float(x1 - x0)
    if variant == "small":  # whole frame downscaled so the face is 64-80 px wide
        scale = min(1.0, small_face_target(index) / face_w)
        h, w = rgb.shape[:2]
        return cv2.resize(rgb, (max(16, round(w * scale)), max(16, round(h * scale))), interpolation=cv2.INTER_AREA)
    if variant == "crop64g":  # a square grey face crop, 64x64, like classic smile datasets
        side = 1.25 * max(face_w, float(y1 - y0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        m = np.float32([[64 / side, 0, 32 - cx * 64 / side], [0, 64 / side, 32 - cy * 64 / side]])
        crop = cv2.warpAffine(rgb, m, (64, 64), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        return np.dstack([grey] * 3)
    raise ValueError(f"unknown variant {variant!r}")


@dataclass
class ObsSet:
    """Observations of one dev set in one variant (None where no face was found)."""

    rows: list[dict[str, str]]
    obs: list[FaceObservation | None]
    ms: list[float]


def _pack(obs: Sequence[FaceObservation | None], names: list[str]) -> dict[str, np.ndarray]:
    n = len(obs)
    found = np.array([o is not None for o in obs])
    lm = np.zeros((n, 478, 3), np.float32)
    bs = np.zeros((n, len(names)), np.float32)
    tf = np.full((n, 4, 4), np.nan, np.float32)
    size = np.zeros((n, 2), np.int32)
    mouth = np.zeros((n, PATCH_H, PATCH_W), np.uint8)
    has_mouth = np.zeros(n, bool)
    for i, o in enumerate(obs):
        if o is None:
            continue
        lm[i], size[i] = o.landmarks, o.image_size
        bs[i] = [o.blendshapes.get(k, 0.0) for k in names]
        if o.transform is not None:
            tf[i] = o.transform
        if o.mouth is not None:
            mouth[i], has_mouth[i] = o.mouth, True
    return {"found": found, "landmarks": lm, "blend": bs, "transform": tf, "size": size, "mouth": mouth,
            "has_mouth": has_mouth}


def _unpack(z: dict[str, np.ndarray], names: list[str]) -> list[FaceObservation | None]:
    from core.landmarker import box_of

    out: list[FaceObservation | None] = []
    for i in range(len(z["found"])):
        if not z["found"][i]:
            out.append(None)
            continue
        tf = z["transform"][i]
        out.append(FaceObservation(t_ms=0.0, landmarks=z["landmarks"][i], box=box_of(z["landmarks"][i]),
                                   blendshapes={k: float(v) for k, v in zip(names, z["blend"][i])},
                                   image_size=(int(z["size"][i][0]), int(z["size"][i][1])),
                                   transform=None if np.isnan(tf).any() else tf,
                                   mouth=z["mouth"][i] if z["has_mouth"][i] else None))
    return out


def still_landmarker(backend: str, model: Path) -> Landmarker:
    """The still-photo landmarker (with the zoom) of the named backend, as `score` runs it.

    Retraining on another backend's observations is this one table plus `--backend NAME`: its
    observations are cached under their own name, so backends never mix in one fit.
    """
    from core.zoom import face_landmarker

    factories: dict[str, Callable[[], Landmarker]] = {
        "mediapipe": lambda: face_landmarker(model, still=True, backend="mediapipe"),
        "litert": lambda: face_landmarker(model, still=True, backend="litert"),
    }
    if backend not in factories:
        raise SystemExit(f"unknown landmarker backend {backend!r}; known: {', '.join(sorted(factories))}")
    return factories[backend]()


def extract(data_dir: Path, cache: Path, model: Path, variants: Iterable[str] = VARIANTS,
            backend: str = "mediapipe") -> dict[str, ObsSet]:
    """Observations of every photo in `data_dir` for each variant, cached as npz in `cache`."""
    import contextlib

    rows = read_labels(data_dir)
    cache.mkdir(parents=True, exist_ok=True)
    variants = list(variants)
    files = {v: cache / f"{data_dir.name}-{backend}-{v}-{CACHE_VERSION}.npz" for v in variants}
    names_file = cache / f"blendshape_names-{backend}.json"
    if names_file.exists() and all(f.exists() for f in files.values()):
        names = json.loads(names_file.read_text())
        result = {}
        for v, f in files.items():
            with np.load(f) as z:
                zz = {k: z[k] for k in z.files}
            if len(zz["found"]) == len(rows):
                result[v] = ObsSet(rows, _unpack(zz, names), list(zz["ms"]))
        if len(result) == len(variants):
            return result
    obs = {v: [] for v in variants}
    ms = {v: [] for v in variants}
    names: list[str] = []
    with contextlib.closing(still_landmarker(backend, model)) as lm:
        for i, row in enumerate(rows):
            rgb = load_rgb(data_dir / row["path"])
            base = None
            for v in variants:
                img = rgb if v == "full" or rgb is None or base is None else variant_image(rgb, base, v, i)
                found = None
                if img is not None:
                    t0 = time.perf_counter()
                    faces = lm.detect(img, 0.0)
                    ms[v].append((time.perf_counter() - t0) * 1000)
                    found = faces[0] if faces else None
                else:
                    ms[v].append(float("nan"))
                if v == "full":
                    base = found
                if found is not None and not names:
                    names = sorted(found.blendshapes)
                obs[v].append(found)
            if i % 500 == 0:
                log.info("%s: %d/%d photos", data_dir.name, i, len(rows))
    names_file.write_text(json.dumps(names))
    for v in variants:
        np.savez_compressed(files[v], ms=np.array(ms[v]), **_pack(obs[v], names))
    return {v: ObsSet(rows, obs[v], ms[v]) for v in variants}


# ---- the model: L2-regularised logistic regression, numpy only ------------------------------

def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float, iters: int = 50,
                 start: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, float]:
    """Weights and bias minimising sum(log-loss) + lam/2 |w|^2 (bias unpenalised), by Newton steps.

    Newton's method on a convex loss converges in ~10 steps and needs no learning rate to tune;
    from `start` (the solution at a nearby L2 strength) it needs fewer.
    """
    n, d = x.shape
    a = np.c_[x, np.ones(n)]
    theta = np.zeros(d + 1) if start is None else np.r_[start[0], start[1]]
    reg = np.full(d + 1, lam)
    reg[-1] = 1e-6
    a32 = a.astype(np.float32)  # the Hessian in single precision: half the time, and Newton needs no more
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -30, 30)))
        grad = a.T @ (p - y) + reg * theta
        hess = ((a32 * (p * (1 - p)).astype(np.float32)[:, None]).T @ a32).astype(np.float64) + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-6:
            break
    return theta[:-1], float(theta[-1])


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    score, positive = np.asarray(score, float), np.asarray(positive, bool)
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_s = score[order]
    i = 0
    while i < len(score):  # average ranks over ties
        j = i
        while j + 1 < len(score) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def log_loss(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0, z) - y * z))


def folds_by_group(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A stratified fold number per photo (so a photo's variants never straddle train and test)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), int)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


# Feature sets compared by cross-validation, declared before looking at their figures (the rule
# that chooses between them is in core/SCORE.md). "logit" stretches blendshapes (which saturate
# near 0 and 1) onto an unbounded scale.
V1_FEATURES: list[tuple[str, str]] = [(n, "logit") for n in (
    "bs_smile", "bs_smile_min", "bs_upper_up", "bs_lower_down", "bs_stretch", "bs_dimple", "bs_jaw_open",
    "bs_funnel", "bs_pucker", "bs_press", "bs_frown", "bs_roll_lower", "bs_shrug_lower", "bs_squint")] + [
    (n, "raw") for n in ("g_corner_lift", "g_mouth_width", "g_lip_gap", "g_upper_lip", "g_nose_to_corner",
                         "g_eye_aperture", "g_lower_lid", "g_cheek_raise")]
HOG_FEATURES: list[tuple[str, str]] = [(n, "raw") for n in HOG_NAMES]
REFERENCE = "mouthSmile only"
V1 = "22 features (v1)"
S1 = "S1"
S1_ALL = "S1 + all blendshapes"
ALWAYS_ZERO_BELOW = 0.001  # a blendshape under this on every full-size dev photo is "always zero"
SPLITS = (0, 1, 2)  # fold seeds the rule compares the candidates over (`--splits` runs the first N)


def candidate_spec(name: str, always_zero: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The (feature, transform) list of a named candidate; `always_zero` blendshapes are left out
    of the all-blendshapes one."""
    if name == REFERENCE:
        return [("bs_smile", "logit")]
    if name == V1:
        return list(V1_FEATURES)
    if name == S1:
        return V1_FEATURES + HOG_FEATURES
    if name == S1_ALL:
        skip = set(always_zero)
        return V1_FEATURES + [("bsx_" + n, "logit") for n in BLENDSHAPES if n not in skip] + HOG_FEATURES
    raise KeyError(name)


CANDIDATES = (REFERENCE, V1, S1, S1_ALL)


def without_hog(spec: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The same features less the mouth HOG: the model for observations that carry no mouth patch."""
    return [(n, h) for n, h in spec if not n.startswith(HOG_PREFIX)]


LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
EYE_CUES = {  # anatomy of orbicularis oculi (pars lateralis): each rises with eye engagement
    "g_eye_aperture": -1.0,  # the eye opening narrows
    "g_lower_lid": 1.0,      # the lower lid is pushed up
    "g_cheek_raise": 1.0,    # the infra-orbital cheek bulges up toward the eye
    "bs_squint": 1.0,        # the blendshape network's own reading of the same
}
EYE_CENTRE = 1.0  # mean neutral-SDs of the cues at which eye engagement reads 50
EYE_SLOPE = 1.5
# The scale's knots: (which cross-validated dev logits, the score they read).
SCALE_NEUTRAL, SCALE_BROAD, SCALE_TOP = 10.0, 80.0, 95.0
TOP_SHARE = 0.05  # the broadest 5% of dev smiles read SCALE_TOP or more


def matrix(feats: Sequence[dict[str, float]], spec: Sequence[tuple[str, str]],
           hogs: np.ndarray | None = None) -> np.ndarray:
    """Rows of the model's inputs (transforms applied); HOG columns come from `hogs` ((n, 360)),
    and are NaN without it."""
    names = [n for n, _ in spec if not n.startswith(HOG_PREFIX)]
    x = np.array([[f[n] for n in names] for f in feats], dtype=float).reshape(len(feats), len(names))
    logit = np.array([h == "logit" for n, h in spec if not n.startswith(HOG_PREFIX)], bool)
    p = np.clip(x[:, logit], 0.005, 0.995)
    x[:, logit] = np.log(p / (1 - p))
    hog_cols = [int(n[len(HOG_PREFIX):]) for n, _ in spec if n.startswith(HOG_PREFIX)]
    if not hog_cols:
        return x
    h = np.full((len(feats), len(hog_cols)), np.nan) if hogs is None else np.asarray(hogs, float)[:, hog_cols]
    # Named features first, then the HOG: specs list them in that order (checked here).
    if [n for n, _ in spec][:len(names)] != names:
        raise ValueError("a feature spec must list the HOG values after the named features")
    return np.c_[x, h]


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-9] = 1.0
    return mean, std


def fit_standardised(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mean, std = standardiser(x)
    w, b = fit_logistic(np.clip((x - mean) / std, -CLIP_SD, CLIP_SD), y, lam)
    return mean, std, w, b


def predict(x: np.ndarray, mean: np.ndarray, std: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return np.clip((x - mean) / std, -CLIP_SD, CLIP_SD) @ w + b


def choose_lambda(x: np.ndarray, y: np.ndarray, group_fold: np.ndarray, k: int) -> float:
    """The L2 strength with the lowest inner cross-validated log-loss (strongest fitted first,
    each fit starting from the previous one's solution)."""
    losses = np.zeros(len(LAMBDAS))
    for f in range(k):
        tr, te = group_fold != f, group_fold == f
        mean, std = standardiser(x[tr])
        xtr = np.clip((x[tr] - mean) / std, -CLIP_SD, CLIP_SD)
        xte = np.clip((x[te] - mean) / std, -CLIP_SD, CLIP_SD)
        theta = None
        for j in reversed(range(len(LAMBDAS))):
            theta = fit_logistic(xtr, y[tr], LAMBDAS[j], start=theta)
            losses[j] += log_loss(xte @ theta[0] + theta[1], y[te]) * te.sum()
    return LAMBDAS[int(np.argmin(losses))]


@dataclass
class Table:
    """Per-photo features of the GENKI dev set in every variant, aligned by photo index; `hog`
    holds each variant's mouth HOG (NaN rows where no face or no patch)."""

    y: np.ndarray
    yaw: np.ndarray
    feats: dict[str, list[dict[str, float] | None]]
    hog: dict[str, np.ndarray]


def hog_rows(obs: Sequence[FaceObservation | None]) -> np.ndarray:
    out = np.full((len(obs), len(HOG_NAMES)), np.nan, np.float32)
    for i, o in enumerate(obs):
        h = None if o is None else mouth_hog(o)
        if h is not None:
            out[i] = h
    return out


def genki_table(sets: dict[str, ObsSet]) -> Table:
    rows = sets["full"].rows
    y = np.array([r["label"] == "smile" for r in rows], float)
    yaw = np.array([float(r.get("yaw") or "nan") for r in rows])
    feats = {v: [None if o is None else face_features(o) for o in s.obs] for v, s in sets.items()}
    return Table(y, yaw, feats, {v: hog_rows(s.obs) for v, s in sets.items()})


def always_zero_blendshapes(t: Table) -> list[str]:
    """Blendshape categories under ALWAYS_ZERO_BELOW on every full-size face (labels unused)."""
    found = [f for f in t.feats["full"] if f is not None]
    return [n for n in BLENDSHAPES if max(f["bsx_" + n] for f in found) < ALWAYS_ZERO_BELOW]


def design(t: Table, variant: str, spec: Sequence[tuple[str, str]]) -> np.ndarray:
    """The model inputs of every photo in `variant` (a NaN row where there is no face)."""
    fs = t.feats[variant]
    ok = [i for i, f in enumerate(fs) if f is not None]
    out = np.full((len(fs), len(spec)), np.nan)
    if ok:
        out[ok] = matrix([fs[i] for i in ok], spec, t.hog[variant][ok])
    return out


def cross_validate(t: Table, spec: Sequence[tuple[str, str]], k: int = 10, seed: int = 0,
                   train_on: Sequence[str] = ("full", "small")) -> dict[str, np.ndarray]:
    """Out-of-fold logits per variant (NaN where no face), training each fold on `train_on` variants.

    Folds are by photo; the L2 strength is chosen inside each training part (nested CV), so the
    figures are not tuned on the photos they are measured on.
    """
    fold = folds_by_group(t.y, k, seed)
    inner = folds_by_group(t.y, 5, seed + 1)
    xs = {v: design(t, v, spec) for v in t.feats}
    ok = {v: np.isfinite(x).all(1) for v, x in xs.items()}
    out = {v: np.full(len(t.y), np.nan) for v in t.feats}
    for f in range(k):
        tr_x = np.concatenate([xs[v][(fold != f) & ok[v]] for v in train_on])
        tr_y = np.concatenate([t.y[(fold != f) & ok[v]] for v in train_on])
        tr_inner = np.concatenate([inner[(fold != f) & ok[v]] for v in train_on])
        lam = choose_lambda(tr_x, tr_y, tr_inner, 5)
        m, s, w, b = fit_standardised(tr_x, tr_y, lam)
        for v in t.feats:
            te = (fold == f) & ok[v]
            out[v][te] = predict(xs[v][te], m, s, w, b)
    return out


def figures(z: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy at the shipped threshold (logit 0 = score 50) on found faces, counting misses as
    non-smiles too, and AUC."""
    ok = np.isfinite(z)
    pred = z[ok] >= 0
    return {"accuracy": float(np.mean(pred == (y[ok] == 1))),
            "accuracy_missing_as_neutral": float(np.mean(np.where(ok, np.nan_to_num(z, nan=-1) >= 0, False) == (y == 1))),
            "auc": auc(z[ok], y[ok] == 1), "faces": int(ok.sum()), "photos": int(len(y))}


def split_figures(t: Table, z: dict[str, np.ndarray], seed: int, k: int) -> dict[str, float]:
    """The figures the rule reads, for one split's out-of-fold logits."""
    ok = np.isfinite(z["full"])
    fold = folds_by_group(t.y, k, seed)
    per_fold = [figures(z["full"][fold == f], t.y[fold == f])["accuracy"] for f in range(k)]
    yaw_ok = np.abs(t.yaw) <= YAW_LIMIT_RAD
    yaw_side = yaw_ok & (np.abs(t.yaw) > np.radians(15))
    full = figures(z["full"], t.y)
    return {"accuracy": full["accuracy"], "auc": full["auc"], "log_loss": log_loss(z["full"][ok], t.y[ok]),
            "accuracy_missing_as_neutral": full["accuracy_missing_as_neutral"],
            "small_accuracy": figures(z["small"], t.y)["accuracy"], "small_auc": figures(z["small"], t.y)["auc"],
            "grey_accuracy": figures(z["crop64g"], t.y)["accuracy"],
            "yaw_le_30_accuracy": figures(z["full"][yaw_ok], t.y[yaw_ok])["accuracy"],
            "yaw_15_30_accuracy": figures(z["full"][yaw_side], t.y[yaw_side])["accuracy"],
            "fold_sd": float(np.std(per_fold))}


def rule_prefers_all_blendshapes(a: Sequence[dict[str, float]], b: Sequence[dict[str, float]]) -> tuple[bool, list[str]]:
    """The rule of core/SCORE.md ("Score model v2"): B (S1 + all blendshapes) replaces A (S1)
    only if every clause holds. Returns the verdict and one line per clause."""
    mean = lambda rs, key: float(np.mean([r[key] for r in rs]))  # noqa: E731
    clauses = [
        ("log-loss lower in every split", all(rb["log_loss"] < ra["log_loss"] for ra, rb in zip(a, b))),
        ("mean log-loss at least 2% lower", mean(b, "log_loss") <= 0.98 * mean(a, "log_loss")),
        ("mean accuracy not lower", mean(b, "accuracy") >= mean(a, "accuracy")),
        ("mean small-face accuracy at most 0.3 points lower", mean(b, "small_accuracy") >= mean(a, "small_accuracy") - 0.003),
    ]
    return all(ok for _, ok in clauses), [f"{'yes' if ok else 'no '}  {text}" for text, ok in clauses]


def scale_knots(z: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    """Knots of the score scale from cross-validated logits `z` of the full-size dev photos.

    Logit 0 reads 50 (the decision); the median neutral photo reads 10; the median of the
    broader half of the smiles reads 80; the 95th percentile of the smiles reads 95.
    """
    ok = np.isfinite(z)
    smiles, neutral = z[ok & (y == 1)], z[ok & (y == 0)]
    knots = [float(np.median(neutral)), 0.0, float(np.median(smiles[smiles >= np.median(smiles)])),
             float(np.quantile(smiles, 1.0 - TOP_SHARE))]
    if not (knots[0] < 0 < knots[2] < knots[3]):
        raise ValueError(f"the dev logits give no rising scale: knots {knots}")
    return {"logit": [round(k, 4) for k in knots], "score": [SCALE_NEUTRAL, SMILE_LINE, SCALE_BROAD, SCALE_TOP]}


def fit_all(t: Table, spec: Sequence[tuple[str, str]], z_cv: np.ndarray) -> dict:
    """The model of `spec` fit on every full-size and small-face photo (L2 by CV on them all),
    with its scale from the cross-validated logits `z_cv`, as written to score_model.json."""
    grp = folds_by_group(t.y, 5, 1)
    xs, ys, gs = [], [], []
    for v in ("full", "small"):
        x = design(t, v, spec)
        ok = np.isfinite(x).all(1)
        xs.append(x[ok]), ys.append(t.y[ok]), gs.append(grp[ok])
    x, y = np.concatenate(xs), np.concatenate(ys)
    lam = choose_lambda(x, y, np.concatenate(gs), 5)
    mean, std, w, b = fit_standardised(x, y, lam)
    return {"features": [{"name": n, "transform": h, "mean": round(float(m), 6), "sd": round(float(s), 6),
                          "weight": round(float(ww), 6)} for (n, h), m, s, ww in zip(spec, mean, std, w)],
            "bias": round(b, 6), "l2": lam, "scale": scale_knots(z_cv, t.y)}


def eye_neutral_stats(t: Table) -> dict[str, dict[str, float]]:
    """Population mean and SD of each eye cue over GENKI's neutral photos (full and small): the
    neutral expectation used when the visitor's own neutral is not yet known."""
    vals = {c: [] for c in EYE_CUES}
    for v in ("full", "small"):
        for f, lab in zip(t.feats[v], t.y):
            if f is not None and lab == 0:
                for c in EYE_CUES:
                    vals[c].append(f[c])
    return {c: {"mean": round(float(np.mean(v)), 5), "sd": round(float(np.std(v)), 5), "sign": EYE_CUES[c]}
            for c, v in vals.items()}


def readable_json(model: dict) -> str:
    """JSON with one feature (or one eye cue) per line, so a diff of a retrain reads at a glance."""
    text = json.dumps(model, indent=1)
    for part in ("score", "score_without_mouth"):
        for feat in model.get(part, {}).get("features", []):
            text = text.replace(json.dumps(feat, indent=1).replace("\n", "\n   "), json.dumps(feat), 1)
        for key in ("logit", "score"):
            if part in model and key in model[part].get("scale", {}):
                v = model[part]["scale"][key]
                text = text.replace(json.dumps(v, indent=1).replace("\n", "\n   "), json.dumps(v), 1)
    for name, cue in model["eye"]["cues"].items():
        text = text.replace(json.dumps(cue, indent=1).replace("\n", "\n   "), json.dumps(cue), 1)
    return text + "\n"


def _row(name: str, seed: int | str, r: dict[str, float], out) -> None:
    print(f"{name:22s} {seed!s:>5s} {r['accuracy']:7.4f} {r['auc']:6.4f} {r['log_loss']:7.4f} {r['small_accuracy']:6.4f} "
          f"{r['small_auc']:6.4f} {r['grey_accuracy']:6.4f} {r['yaw_le_30_accuracy']:9.4f} "
          f"{r['yaw_15_30_accuracy']:6.4f} {r['fold_sd']:7.4f}", file=out)


_SHARED: Table | None = None  # the table a forked worker reads (inherited, never pickled)


def _cv_job(args: tuple[list[tuple[str, str]], int, int]) -> dict[str, np.ndarray]:
    spec, k, seed = args
    t0 = time.perf_counter()
    assert _SHARED is not None
    z = cross_validate(_SHARED, spec, k, seed)
    log.info("cross-validated %d features, split %d: %.0f s", len(spec), seed, time.perf_counter() - t0)
    return z


def _map_cv(t: Table, jobs_args: list[tuple[list[tuple[str, str]], int, int]], jobs: int) -> list[dict[str, np.ndarray]]:
    """Run the cross-validations, in `jobs` forked processes when more than one (each single-threaded:
    BLAS threads fighting over shared cores are slower than one each)."""
    global _SHARED
    _SHARED = t
    try:
        if jobs <= 1:
            return [_cv_job(a) for a in jobs_args]
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(_cv_job, jobs_args, chunksize=1)
    finally:
        _SHARED = None


def train(sets: dict[str, dict[str, ObsSet]], out_path: Path, k: int = 10, out=sys.stdout,
          backend: str = "mediapipe", jobs: int = 1, splits: int = len(SPLITS)) -> int:
    """Cross-validate the candidates, choose by the rule, fit the choice on all data, write the JSON."""
    from core.scoring import ScoreModel, eye_engagement

    t = genki_table(sets["genki4k-dev"])
    print(f"GENKI-4K dev ({backend}): {len(t.y)} photos ({int(t.y.sum())} smile); faces found: "
          + ", ".join(f"{v} {sum(f is not None for f in fs)}" for v, fs in t.feats.items())
          + "; with a mouth patch: " + ", ".join(f"{v} {int(np.isfinite(h).all(1).sum())}" for v, h in t.hog.items()),
          file=out)
    zero = always_zero_blendshapes(t)
    print(f"always-zero blendshapes (< {ALWAYS_ZERO_BELOW} on every full-size face): {', '.join(zero) or 'none'}",
          file=out)
    print(f"\n{k}-fold cross-validation by photo, L2 strength chosen by nested 5-fold CV, "
          "trained on full-size + small-face photos:", file=out)
    print(f"{'feature set':22s} {'split':>5s} {'acc@50':>7s} {'AUC':>6s} {'logloss':>7s} {'small':>6s} {'s.AUC':>6s} "
          f"{'grey64':>6s} {'|yaw|<=30':>9s} {'15-30':>6s} {'fold sd':>7s}", file=out)
    runs: dict[str, list[dict[str, float]]] = {}
    logits: dict[str, dict[str, np.ndarray]] = {}
    seeds = SPLITS[:max(1, splits)]
    jobs_list = [(name, seed) for name in CANDIDATES for seed in (seeds[:1] if name == REFERENCE else seeds)]
    for (name, seed), z in zip(jobs_list, _map_cv(t, [(candidate_spec(n, zero), k, sd) for n, sd in jobs_list], jobs)):
        if seed == SPLITS[0]:
            logits[name] = z
        runs.setdefault(name, []).append(split_figures(t, z, seed, k))
    for name in CANDIDATES:
        for seed, r in zip(seeds, runs[name]):
            _row(name, seed, r, out)
        if len(runs[name]) > 1:
            _row(name, "mean", {key: float(np.mean([r[key] for r in runs[name]])) for key in runs[name][0]}, out)

    hog_ok = all(a["log_loss"] < b["log_loss"] for a, b in zip(runs[S1], runs[V1]))
    print(f"\ncheck: S1 beats the 22 features' log-loss in every split: {'yes' if hog_ok else 'NO'}", file=out)
    take_all, lines = rule_prefers_all_blendshapes(runs[S1], runs[S1_ALL])
    print(f"rule ({S1_ALL} replaces {S1} only if every line says yes):", file=out)
    for line in lines:
        print("  " + line, file=out)
    best = S1_ALL if take_all else S1
    print(f"chosen: {best}", file=out)
    if not hog_ok:
        print("warning: the mouth HOG did not help in every split; look at core/hog.py before shipping", file=out)

    spec = candidate_spec(best, zero)
    fallback_spec = without_hog(spec)
    fallback_name = next((n for n in CANDIDATES if candidate_spec(n, zero) == fallback_spec), None)
    z_fallback = (logits[fallback_name] if fallback_name else cross_validate(t, fallback_spec, k, SPLITS[0]))
    model = {
        "about": "Smile Score model written by `python -m core.offline.train_scorer`; see core/SCORE.md.",
        "score": fit_all(t, spec, logits[best]["full"]),
        "score_without_mouth": fit_all(t, fallback_spec, z_fallback["full"]),
        "eye": {"cues": eye_neutral_stats(t), "centre": EYE_CENTRE, "slope": EYE_SLOPE},
        "cv": {},
    }
    sm = ScoreModel.from_dict(model)

    # Genuine vs posed: the eye-engagement reading on the weak-label set (direction check).
    gp = sets["genuine-posed-dev"]["full"]
    eng, gen, smile = [], [], []
    for o, r in zip(gp.obs, gp.rows):
        if o is not None:
            f = face_features(o)
            eng.append(eye_engagement(f, sm))
            gen.append(r.get("subtype") == "genuine")
            smile.append(sm.score(f, mouth_hog(o)))
    eng_a, gen_a = np.array(eng), np.array(gen)
    gp_auc = auc(eng_a, gen_a)
    print(f"\ngenuine vs posed ({len(gen_a)} faces, weak labels): eye-engagement AUC {gp_auc:.3f}; "
          f"engagement >= 50: genuine {np.mean(eng_a[gen_a] >= 50):.2f}, posed {np.mean(eng_a[~gen_a] >= 50):.2f}; "
          f"smile score >= 50: {np.mean(np.array(smile) >= 50):.2f}", file=out)

    # The scale on the cross-validated logits: where the dev photos land.
    z = logits[best]["full"]
    ok = np.isfinite(z)
    cv_scores = np.array([sm.main.scale(v) for v in z[ok]])
    smiles = cv_scores[t.y[ok] == 1]
    print(f"scale knots (logit -> score): {model['score']['scale']}; cross-validated dev smiles scoring >= 95: "
          f"{np.mean(smiles >= 95):.3f}, >= 99: {np.mean(smiles >= 99):.3f}; median smile {np.median(smiles):.1f}, "
          f"median neutral {np.median(cv_scores[t.y[ok] == 0]):.1f}", file=out)

    r0 = runs[best][0]
    rf = split_figures(t, z_fallback, SPLITS[0], k)
    model["cv"] = {
        "folds": k, "splits": list(seeds), "backend": backend, "feature_set": best,
        "always_zero_blendshapes": zero,
        "rule": {"all_blendshapes_chosen": take_all, "clauses": lines, "hog_beats_v1_every_split": hog_ok},
        "candidates": {n: {key: round(float(np.mean([r[key] for r in rs])), 4)
                           for key in ("accuracy", "log_loss", "auc", "small_accuracy")} for n, rs in runs.items()},
        "genki_accuracy_at_50": round(r0["accuracy"], 4), "genki_accuracy_fold_sd": round(r0["fold_sd"], 4),
        "genki_auc": round(r0["auc"], 4),
        "genki_accuracy_missing_as_neutral": round(r0["accuracy_missing_as_neutral"], 4),
        "small_face_64_80px_accuracy": round(r0["small_accuracy"], 4), "small_face_auc": round(r0["small_auc"], 4),
        "grey_crop_64px_accuracy": round(r0["grey_accuracy"], 4),
        "yaw_le_30_accuracy": round(r0["yaw_le_30_accuracy"], 4),
        "yaw_15_30_accuracy": round(r0["yaw_15_30_accuracy"], 4),
        "without_mouth_accuracy_at_50": round(rf["accuracy"], 4), "without_mouth_auc": round(rf["auc"], 4),
        "smiles_at_95_or_more": round(float(np.mean(smiles >= 95)), 4),
        "genuine_posed_eye_auc": round(gp_auc, 4),
    }
    out_path.write_text(readable_json(model), encoding="utf-8")
    print(f"\nweights written to {out_path} (L2 {model['score']['l2']}; without the mouth patch: "
          f"L2 {model['score_without_mouth']['l2']})", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.offline.train_scorer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with genki4k-dev/ and genuine-posed-dev/")
    ap.add_argument("--cache", type=Path, required=True, help="where observations are cached (outside the repo)")
    ap.add_argument("--model", type=Path, default=None, help="face_landmarker.task (default: the verified cache)")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--backend", default="mediapipe", help="landmarker backend whose observations to train on")
    ap.add_argument("--jobs", type=int, default=1, help="cross-validations run side by side (processes)")
    ap.add_argument("--splits", type=int, default=len(SPLITS), help="fold splits the rule compares over (1-3)")
    ap.add_argument("--extract-only", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.model is None:
        from core.assets import MODEL, ensure
        args.model = ensure(MODEL)
    sets = {d: extract(args.data / d, args.cache, args.model, backend=args.backend)
            for d in ("genki4k-dev", "genuine-posed-dev")}
    if args.extract_only:
        return 0
    return train(sets, args.out, backend=args.backend, jobs=args.jobs, splits=args.splits)


if __name__ == "__main__":
    sys.exit(main())
