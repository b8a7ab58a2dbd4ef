"""Features of one face for the Smile Score: MediaPipe blendshapes plus pose-free landmark geometry.

Why geometry as well as blendshapes: the blendshape network sees a 256 px face crop and is
unsure on small, grey or turned faces; the landmark mesh still places the mouth corners and
eyelids. Geometry is measured in a head-aligned frame (the landmarker's head-pose matrix undoes
roll, yaw and pitch; without it a frame is built from the eye corners and the forehead-chin
line) and in units of the inter-ocular distance (IOD: between the two eye centres), so a face's
size and turn change nothing but the noise.

Signs are not normalised (the scorer learns a weight per feature). On GENKI-4K dev photos a
smile makes g_corner_lift, g_mouth_width, g_lip_gap (teeth show), g_lower_lid and g_cheek_raise
larger, and g_upper_lip, g_nose_to_corner, g_eye_aperture and g_eye_aperture_lateral smaller;
g_brow_height hardly moves. Blendshapes are MediaPipe's 0-1 activations, each larger as its own
movement grows: most rise with a smile, while frown, pucker, roll_lower and shrug_lower fall.
`bsx_<category>` are the raw blendshapes, one each. The mouth's appearance (`mouth_hog`) is a
HOG of the mouth patch the landmarker cut from the frame (`core.mouth_patch`).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from core.hog import hog, hog_size
from core.mouth_patch import PATCH_H, PATCH_W
from core.types import FaceObservation


# MediaPipe Face Mesh indices ("R" = the person's right, on the left of an unmirrored image).
R_EYE_OUT, R_EYE_IN, L_EYE_OUT, L_EYE_IN = 33, 133, 263, 362
R_UPPER_LID, R_LOWER_LID = (160, 159, 158), (144, 145, 153)
L_UPPER_LID, L_LOWER_LID = (387, 386, 385), (373, 374, 380)
R_UPPER_OUTER, R_LOWER_OUTER = 161, 163  # lateral third of the lid: where crow's feet pull
L_UPPER_OUTER, L_LOWER_OUTER = 388, 390
R_CHEEK, L_CHEEK = (229, 230, 117, 118), (449, 450, 346, 347)  # infra-orbital cheek, below the lower lid
R_BROW, L_BROW = (105, 66, 107), (334, 296, 336)
MOUTH_R, MOUTH_L = 61, 291
LIP_UPPER_IN, LIP_LOWER_IN, LIP_UPPER_OUT, LIP_LOWER_OUT = 13, 14, 0, 17
NOSE_BASE, FOREHEAD, CHIN = 2, 10, 152

_FLIP = np.diag([1.0, -1.0, -1.0])  # image axes (x right, y down, z away) -> x right, y up, z toward camera


def _pair(b: Mapping[str, float], name: str) -> float:
    return 0.5 * (float(b.get(name + "Left", 0.0)) + float(b.get(name + "Right", 0.0)))


def blendshape_features(b: Mapping[str, float]) -> dict[str, float]:
    """The blendshapes that bear on a smile, left/right averaged (a smile is mostly symmetric).

    cheekSquint is left out on purpose: this model returns 0.0 for it on every face.
    """
    return {
        "bs_smile": _pair(b, "mouthSmile"),
        "bs_smile_min": min(float(b.get("mouthSmileLeft", 0.0)), float(b.get("mouthSmileRight", 0.0))),
        "bs_squint": _pair(b, "eyeSquint"),
        "bs_blink": _pair(b, "eyeBlink"),
        "bs_dimple": _pair(b, "mouthDimple"),
        "bs_stretch": _pair(b, "mouthStretch"),
        "bs_upper_up": _pair(b, "mouthUpperUp"),
        "bs_lower_down": _pair(b, "mouthLowerDown"),
        "bs_press": _pair(b, "mouthPress"),
        "bs_frown": _pair(b, "mouthFrown"),
        "bs_jaw_open": float(b.get("jawOpen", 0.0)),
        "bs_pucker": float(b.get("mouthPucker", 0.0)),
        "bs_funnel": float(b.get("mouthFunnel", 0.0)),
        "bs_roll_lower": float(b.get("mouthRollLower", 0.0)),
        "bs_shrug_lower": float(b.get("mouthShrugLower", 0.0)),
        "bs_brow_down": _pair(b, "browDown"),
        "bs_eye_wide": _pair(b, "eyeWide"),
    }


# Every category MediaPipe's blendshape model returns, in its order.
BLENDSHAPES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
HOG_NAMES = tuple(f"mouth_hog_{i:03d}" for i in range(hog_size(PATCH_H, PATCH_W)))


def each_blendshape(b: Mapping[str, float]) -> dict[str, float]:
    """Every blendshape on its own, left and right apart, as `bsx_<category>` (0.0 when absent)."""
    return {"bsx_" + n: float(b.get(n, 0.0)) for n in BLENDSHAPES}


def mouth_hog(obs: FaceObservation) -> np.ndarray | None:
    """The HOG of the observation's mouth patch (values in `HOG_NAMES` order); None without a patch."""
    return None if obs.mouth is None else hog(obs.mouth)


def head_frame(obs: FaceObservation) -> np.ndarray:
    """3x3 rotation whose columns are the head's right, up and forward axes in image space (y up).

    From the landmarker's head-pose matrix when present, else from the landmarks themselves.
    Multiplying centred points (row vectors) by it gives head-aligned coordinates.
    """
    if obs.transform is not None and np.all(np.isfinite(obs.transform)):
        r = np.asarray(obs.transform, dtype=np.float64)[:3, :3]
        norms = np.linalg.norm(r, axis=0)
        if np.all(norms > 1e-6):
            return r / norms
    p = obs.points_px().astype(np.float64) @ _FLIP
    x = p[L_EYE_OUT] - p[R_EYE_OUT]
    x /= np.linalg.norm(x) or 1.0
    y = p[FOREHEAD] - p[CHIN]
    y -= x * (x @ y)
    y /= np.linalg.norm(y) or 1.0
    return np.stack([x, y, np.cross(x, y)], axis=1)


def aligned_points(obs: FaceObservation) -> tuple[np.ndarray, float]:
    """Landmarks in the head frame, in IOD units, centred between the eyes; and the IOD in pixels."""
    p = obs.points_px().astype(np.float64) @ _FLIP
    q = p @ head_frame(obs)
    r_eye = 0.5 * (q[R_EYE_OUT] + q[R_EYE_IN])
    l_eye = 0.5 * (q[L_EYE_OUT] + q[L_EYE_IN])
    iod = float(np.linalg.norm((l_eye - r_eye)[:2]))
    if not math.isfinite(iod) or iod < 1e-6:
        iod = 1e-6
    return (q - 0.5 * (r_eye + l_eye)) / iod, iod


def _eye(q: np.ndarray, out: int, inn: int, upper: tuple[int, ...], lower: tuple[int, ...],
         upper_outer: int, lower_outer: int) -> tuple[float, float, float]:
    """(aperture / eye width, lateral aperture / eye width, lower-lid height above the corner line)."""
    width = float(np.linalg.norm((q[out] - q[inn])[:2])) or 1e-6
    ap = float(np.mean(q[list(upper), 1] - q[list(lower), 1])) / width
    ap_out = float(q[upper_outer, 1] - q[lower_outer, 1]) / width
    corner_y = 0.5 * (q[out, 1] + q[inn, 1])
    lid = float(np.mean(q[list(lower), 1]) - corner_y)
    return ap, ap_out, lid


def geometry_features(obs: FaceObservation) -> dict[str, float]:
    """Pose- and size-free shape measures of mouth, eyes, cheeks and brows (IOD units)."""
    q, iod = aligned_points(obs)
    r = _eye(q, R_EYE_OUT, R_EYE_IN, R_UPPER_LID, R_LOWER_LID, R_UPPER_OUTER, R_LOWER_OUTER)
    l = _eye(q, L_EYE_OUT, L_EYE_IN, L_UPPER_LID, L_LOWER_LID, L_UPPER_OUTER, L_LOWER_OUTER)
    lip_mid = 0.5 * (q[LIP_UPPER_IN] + q[LIP_LOWER_IN])
    corners = q[[MOUTH_R, MOUTH_L]]
    eye_y = 0.5 * (q[[R_EYE_OUT, R_EYE_IN], 1].mean() + q[[L_EYE_OUT, L_EYE_IN], 1].mean())
    r_cheek, l_cheek = q[list(R_CHEEK), 1].mean(), q[list(L_CHEEK), 1].mean()
    brow = 0.5 * (q[list(R_BROW), 1].mean() + q[list(L_BROW), 1].mean())
    nose_to_mouth = float(q[NOSE_BASE, 1] - corners[:, 1].mean())
    return {
        "g_corner_lift": float(corners[:, 1].mean() - lip_mid[1]),  # corners above the lip centre
        "g_mouth_width": float(np.linalg.norm((corners[1] - corners[0])[:2])),
        "g_lip_gap": float(q[LIP_UPPER_IN, 1] - q[LIP_LOWER_IN, 1]),
        "g_upper_lip": float(q[NOSE_BASE, 1] - q[LIP_UPPER_OUT, 1]),  # nose to upper lip: shorter when raised
        "g_nose_to_corner": nose_to_mouth,  # corners drawn up toward the nose base
        "g_eye_aperture": 0.5 * (r[0] + l[0]),
        "g_eye_aperture_lateral": 0.5 * (r[1] + l[1]),
        "g_lower_lid": 0.5 * (r[2] + l[2]),  # lower lid pushed up toward the corner line
        "g_cheek_raise": float(0.5 * (r_cheek + l_cheek) - eye_y),  # infra-orbital cheek pushed up toward the eye
        "g_brow_height": float(brow - eye_y),
        "face_px": iod,
    }


def face_features(obs: FaceObservation) -> dict[str, float]:
    """The named features of one observation (blendshapes, each blendshape, geometry), as plain
    floats. The mouth HOG is kept apart (`mouth_hog`): 360 values are cheaper as one array."""
    feats = blendshape_features(obs.blendshapes)
    feats.update(each_blendshape(obs.blendshapes))
    feats.update(geometry_features(obs))
    return feats
