"""Train the Smile Score's small logistic model on the dev photos and report cross-validated figures.

    python -m core.offline.train_scorer --data /work/shared/data --cache /tmp/sm-obs [--out core/score_model.json]

Steps: (1) run the Face Landmarker once per photo (IMAGE mode, zooming in on faces too small
for its detector as `smile-mirror score` does: see core/zoom.py) at full size, with the face
downscaled to 64-80 px, and as a 64x64 grey face crop, caching the observations as .npz outside
the repo; (2) turn observations into features (`core.features`); (3) fit an L2-regularised
logistic regression (numpy only, so this runs in the product's own venv) with stratified k-fold
cross-validation, training on full-size and small-face observations together so the model does
not lean on detail that small faces lack; (4) print the figures; (5) write the weights as a
small readable JSON that `core.scoring` loads. Only numpy: no scikit-learn in the product.
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
from typing import Iterable, Sequence

import numpy as np

from core.scoring import CLIP_SD, MODEL_PATH
from core.types import FaceObservation

log = logging.getLogger(__name__)

VARIANTS = ("full", "small", "crop64g")
CACHE_VERSION = "zoom"  # observations made with the zoom (core/zoom.py); change when extraction changes
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
    for i, o in enumerate(obs):
        if o is None:
            continue
        lm[i], size[i] = o.landmarks, o.image_size
        bs[i] = [o.blendshapes.get(k, 0.0) for k in names]
        if o.transform is not None:
            tf[i] = o.transform
    return {"found": found, "landmarks": lm, "blend": bs, "transform": tf, "size": size}


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
                                   transform=None if np.isnan(tf).any() else tf))
    return out


def extract(data_dir: Path, cache: Path, model: Path, variants: Iterable[str] = VARIANTS) -> dict[str, ObsSet]:
    """Observations of every photo in `data_dir` for each variant, cached as npz in `cache`."""
    import contextlib

    from core.zoom import face_landmarker

    rows = read_labels(data_dir)
    cache.mkdir(parents=True, exist_ok=True)
    variants = list(variants)
    files = {v: cache / f"{data_dir.name}-{v}-{CACHE_VERSION}.npz" for v in variants}
    names_file = cache / "blendshape_names.json"
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
    with contextlib.closing(face_landmarker(model, still=True)) as lm:
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

def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float, iters: int = 50) -> tuple[np.ndarray, float]:
    """Weights and bias minimising sum(log-loss) + lam/2 |w|^2 (bias unpenalised), by Newton steps.

    Newton's method on a convex loss with a handful of features converges in ~10 steps and needs
    no learning rate to tune.
    """
    n, d = x.shape
    a = np.c_[x, np.ones(n)]
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, lam)
    reg[-1] = 1e-6
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -30, 30)))
        grad = a.T @ (p - y) + reg * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
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


# Feature sets compared by cross-validation, declared before looking at their figures.
# "logit" stretches blendshapes (which saturate near 0 and 1) onto an unbounded scale.
CANDIDATES: dict[str, list[tuple[str, str]]] = {
    "smile blendshape only": [("bs_smile", "logit")],
    "mouth blendshapes": [(n, "logit") for n in (
        "bs_smile", "bs_smile_min", "bs_upper_up", "bs_lower_down", "bs_stretch", "bs_dimple", "bs_jaw_open",
        "bs_funnel", "bs_pucker", "bs_press", "bs_frown", "bs_roll_lower", "bs_shrug_lower")],
    "mouth blendshapes + geometry": [(n, "logit") for n in (
        "bs_smile", "bs_smile_min", "bs_upper_up", "bs_lower_down", "bs_stretch", "bs_dimple", "bs_jaw_open",
        "bs_funnel", "bs_pucker", "bs_press", "bs_frown", "bs_roll_lower", "bs_shrug_lower")] + [(n, "raw") for n in (
        "g_corner_lift", "g_mouth_width", "g_lip_gap", "g_upper_lip", "g_nose_to_corner")],
    "mouth + eye blendshapes + geometry": [(n, "logit") for n in (
        "bs_smile", "bs_smile_min", "bs_upper_up", "bs_lower_down", "bs_stretch", "bs_dimple", "bs_jaw_open",
        "bs_funnel", "bs_pucker", "bs_press", "bs_frown", "bs_roll_lower", "bs_shrug_lower", "bs_squint")] + [
        (n, "raw") for n in ("g_corner_lift", "g_mouth_width", "g_lip_gap", "g_upper_lip", "g_nose_to_corner",
                             "g_eye_aperture", "g_lower_lid", "g_cheek_raise")],
}
LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
EYE_CUES = {  # anatomy of orbicularis oculi (pars lateralis): each rises with eye engagement
    "g_eye_aperture": -1.0,  # the eye opening narrows
    "g_lower_lid": 1.0,      # the lower lid is pushed up
    "g_cheek_raise": 1.0,    # the infra-orbital cheek bulges up toward the eye
    "bs_squint": 1.0,        # the blendshape network's own reading of the same
}
EYE_CENTRE = 1.0  # mean neutral-SDs of the cues at which eye engagement reads 50
EYE_SLOPE = 1.5


def matrix(feats: Sequence[dict[str, float]], spec: Sequence[tuple[str, str]]) -> np.ndarray:
    from core.scoring import transform_feature

    return np.array([[transform_feature(f[name], how) for name, how in spec] for f in feats], dtype=float)


def fit_standardised(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-9] = 1.0
    w, b = fit_logistic(np.clip((x - mean) / std, -CLIP_SD, CLIP_SD), y, lam)
    return mean, std, w, b


def predict(x: np.ndarray, mean: np.ndarray, std: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return np.clip((x - mean) / std, -CLIP_SD, CLIP_SD) @ w + b


def choose_lambda(x: np.ndarray, y: np.ndarray, group_fold: np.ndarray, k: int) -> float:
    """The L2 strength with the lowest inner cross-validated log-loss."""
    losses = []
    for lam in LAMBDAS:
        loss = 0.0
        for f in range(k):
            tr, te = group_fold != f, group_fold == f
            m, s, w, b = fit_standardised(x[tr], y[tr], lam)
            loss += log_loss(predict(x[te], m, s, w, b), y[te]) * te.sum()
        losses.append(loss)
    return LAMBDAS[int(np.argmin(losses))]


@dataclass
class Table:
    """Per-photo features of the GENKI dev set in every variant, aligned by photo index."""

    y: np.ndarray
    yaw: np.ndarray
    feats: dict[str, list[dict[str, float] | None]]


def genki_table(sets: dict[str, ObsSet]) -> Table:
    from core.features import face_features

    rows = sets["full"].rows
    y = np.array([r["label"] == "smile" for r in rows], float)
    yaw = np.array([float(r.get("yaw") or "nan") for r in rows])
    feats = {v: [None if o is None else face_features(o) for o in s.obs] for v, s in sets.items()}
    return Table(y, yaw, feats)


def cross_validate(t: Table, spec: Sequence[tuple[str, str]], k: int = 10, seed: int = 0,
                   train_on: Sequence[str] = ("full", "small")) -> dict[str, np.ndarray]:
    """Out-of-fold logits per variant (NaN where no face), training each fold on `train_on` variants.

    Folds are by photo; the L2 strength is chosen inside each training part (nested CV), so the
    figures are not tuned on the photos they are measured on.
    """
    fold = folds_by_group(t.y, k, seed)
    inner = folds_by_group(t.y, 5, seed + 1)
    out = {v: np.full(len(t.y), np.nan) for v in t.feats}
    ok = {v: np.array([f is not None for f in fs]) for v, fs in t.feats.items()}
    xs = {v: np.array([matrix([f], spec)[0] if f is not None else np.full(len(spec), np.nan) for f in fs])
          for v, fs in t.feats.items()}
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
    for feat in model["score"]["features"]:
        text = text.replace(json.dumps(feat, indent=1).replace("\n", "\n   "), json.dumps(feat), 1)
    for name, cue in model["eye"]["cues"].items():
        text = text.replace(json.dumps(cue, indent=1).replace("\n", "\n   "), json.dumps(cue), 1)
    return text + "\n"


def train(sets: dict[str, dict[str, ObsSet]], out_path: Path, k: int = 10, out=sys.stdout) -> int:
    """Cross-validate the candidate feature sets, fit the chosen one on all data, write the JSON."""
    from core.features import face_features
    from core.scoring import ScoreModel, eye_engagement

    t = genki_table(sets["genki4k-dev"])
    print(f"GENKI-4K dev: {len(t.y)} photos ({int(t.y.sum())} smile); faces found: "
          + ", ".join(f"{v} {sum(f is not None for f in fs)}" for v, fs in t.feats.items()), file=out)
    yaw_ok = np.abs(t.yaw) <= YAW_LIMIT_RAD
    yaw_side = yaw_ok & (np.abs(t.yaw) > np.radians(15))
    results = {}
    print(f"\n{k}-fold cross-validation by photo, L2 strength chosen by nested 5-fold CV, "
          "trained on full-size + small-face photos:", file=out)
    print(f"{'feature set':36s} {'acc@50':>7s} {'AUC':>6s} {'small':>6s} {'s.AUC':>6s} {'grey64':>6s}"
          f" {'|yaw|<=30':>9s} {'15-30':>6s} {'logloss':>7s} {'fold sd':>7s}", file=out)
    fold = folds_by_group(t.y, k, 0)  # the outer folds cross_validate uses (seed 0)
    for name, spec in CANDIDATES.items():
        z = cross_validate(t, spec, k)
        full, small, grey = figures(z["full"], t.y), figures(z["small"], t.y), figures(z["crop64g"], t.y)
        yf, ys = figures(z["full"][yaw_ok], t.y[yaw_ok]), figures(z["full"][yaw_side], t.y[yaw_side])
        ok = np.isfinite(z["full"])
        ll = log_loss(z["full"][ok], t.y[ok])
        per_fold = [figures(z["full"][fold == f], t.y[fold == f])["accuracy"] for f in range(k)]
        sd = float(np.std(per_fold))  # spread of accuracy at 50 across the outer folds
        results[name] = dict(full=full, small=small, crop64_grey=grey, yaw_le_30=yf, yaw_15_30=ys, log_loss=ll, z=z,
                             fold_sd=sd)
        print(f"{name:36s} {full['accuracy']:7.3f} {full['auc']:6.3f} {small['accuracy']:6.3f} {small['auc']:6.3f} "
              f"{grey['accuracy']:6.3f} {yf['accuracy']:9.3f} {ys['accuracy']:6.3f} {ll:7.4f} {sd:7.3f}", file=out)
    print(f"  (|yaw| 15-30 deg: {results[name]['yaw_15_30']['photos']} photos; |yaw| <= 30: "
          f"{results[name]['yaw_le_30']['photos']})", file=out)
    best = min(results, key=lambda n: results[n]["log_loss"])
    print(f"\nchosen by lowest CV log-loss: {best}", file=out)
    spec = CANDIDATES[best]

    # Fit on everything, pick the L2 strength by CV on everything.
    rows_x, rows_y, rows_g = [], [], []
    grp = folds_by_group(t.y, 5, 1)
    for v in ("full", "small"):
        for i, f in enumerate(t.feats[v]):
            if f is not None:
                rows_x.append(f), rows_y.append(t.y[i]), rows_g.append(grp[i])
    x, y = matrix(rows_x, spec), np.array(rows_y)
    lam = choose_lambda(x, y, np.array(rows_g), 5)
    mean, std, w, b = fit_standardised(x, y, lam)

    # Temperatures: logit 0 stays score 50 (the decision). Above it the scale is set so that the
    # median cross-validated logit of the broader half of GENKI's smiles reads 80 ("a broad
    # smile"); below it so that the median neutral photo reads 10 ("a relaxed face").
    z = results[best]["z"]["full"]
    zs = z[np.isfinite(z) & (t.y == 1)]
    broad = float(np.median(zs[zs >= np.median(zs)]))
    relaxed = float(np.median(z[np.isfinite(z) & (t.y == 0)]))
    temperature = broad / float(np.log(0.8 / 0.2))
    temperature_low = relaxed / float(np.log(0.1 / 0.9))
    model = {
        "about": "Smile Score model written by `python -m core.offline.train_scorer`; see core/SCORE.md.",
        "score": {
            "features": [{"name": n, "transform": h, "mean": round(float(m), 6), "sd": round(float(s), 6),
                          "weight": round(float(ww), 6)} for (n, h), m, s, ww in zip(spec, mean, std, w)],
            "bias": round(b, 6), "l2": lam,
            "temperature": round(temperature, 4), "temperature_below_50": round(temperature_low, 4),
        },
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
            smile.append(sm.score(f))
    eng_a, gen_a = np.array(eng), np.array(gen)
    gp_auc = auc(eng_a, gen_a)
    print(f"\ngenuine vs posed ({len(gen_a)} faces, weak labels): eye-engagement AUC {gp_auc:.3f}; "
          f"engagement >= 50: genuine {np.mean(eng_a[gen_a] >= 50):.2f}, posed {np.mean(eng_a[~gen_a] >= 50):.2f}; "
          f"smile score >= 50: {np.mean(np.array(smile) >= 50):.2f}", file=out)
    r = results[best]
    model["cv"] = {
        "folds": k, "feature_set": best,
        "genki_accuracy_at_50": round(r["full"]["accuracy"], 4), "genki_accuracy_fold_sd": round(r["fold_sd"], 4),
        "genki_auc": round(r["full"]["auc"], 4),
        "genki_accuracy_missing_as_neutral": round(r["full"]["accuracy_missing_as_neutral"], 4),
        "small_face_64_80px_accuracy": round(r["small"]["accuracy"], 4), "small_face_auc": round(r["small"]["auc"], 4),
        "grey_crop_64px_accuracy": round(r["crop64_grey"]["accuracy"], 4),
        "yaw_le_30_accuracy": round(r["yaw_le_30"]["accuracy"], 4),
        "yaw_15_30_accuracy": round(r["yaw_15_30"]["accuracy"], 4),
        "genuine_posed_eye_auc": round(gp_auc, 4),
    }
    out_path.write_text(readable_json(model), encoding="utf-8")
    print(f"\nweights written to {out_path} (L2 {lam}, temperatures {temperature:.3f} above 50, {temperature_low:.3f} below)", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.offline.train_scorer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with genki4k-dev/ and genuine-posed-dev/")
    ap.add_argument("--cache", type=Path, required=True, help="where observations are cached (outside the repo)")
    ap.add_argument("--model", type=Path, default=None, help="face_landmarker.task (default: the verified cache)")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--extract-only", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.model is None:
        from core.assets import MODEL, ensure
        args.model = ensure(MODEL)
    sets = {d: extract(args.data / d, args.cache, args.model) for d in ("genki4k-dev", "genuine-posed-dev")}
    if args.extract_only:
        return 0
    return train(sets, args.out)


if __name__ == "__main__":
    sys.exit(main())
