"""The grey mouth patch the scorer reads the mouth's appearance from, cut from a frame by landmarks.

Why a patch on the observation: the mouth HOG (`core.hog`) needs pixels, and the scorer is a
pure function of a `FaceObservation`. Every landmarker backend calls `mouth_patch` on the frame
it ran on, right after its landmarks, so the patch is the same whichever backend made them.

The crop is 1.5 x 0.75 inter-ocular distances (IOD) around the mouth, turned so the eye line is
level (a tilted head gives the same patch), scaled to 48x24 px. A face larger than the patch is
first sampled at a whole multiple of 48x24 and averaged down, so big faces do not alias.
"""

from __future__ import annotations

import numpy as np

# MediaPipe Face Mesh indices: eye corners, mouth corners, outer lip centres.
EYES_R, EYES_L = (33, 133), (263, 362)
MOUTH = (61, 291, 0, 17)
PATCH_W, PATCH_H = 48, 24          # pixels of the patch
CROP_W_IOD, CROP_H_IOD = 1.5, 0.75  # the crop, in inter-ocular distances
MAX_OVERSAMPLE = 8


def mouth_patch(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The mouth of the face at `landmarks` ((N, 3) normalised to `rgb`'s width and height) as a
    (24, 48) uint8 grey patch, eye line level; None when the landmarks are unusable
    (non-finite, or eyes under 2 px apart)."""
    import cv2

    h, w = rgb.shape[:2]
    pts = np.asarray(landmarks, np.float64)[:, :2] * (w, h)
    r_eye, l_eye = pts[list(EYES_R)].mean(0), pts[list(EYES_L)].mean(0)
    centre = pts[list(MOUTH)].mean(0)
    d = l_eye - r_eye
    iod = float(np.hypot(*d))
    if not (np.isfinite(iod) and np.all(np.isfinite(centre)) and iod >= 2.0):
        return None
    u = d / iod                  # along the eye line, image right for an upright face
    v = np.array([-u[1], u[0]])  # perpendicular, image down
    per_px = CROP_W_IOD * iod / PATCH_W  # source pixels per patch pixel
    k = int(min(MAX_OVERSAMPLE, max(1, round(per_px))))
    ow, oh = PATCH_W * k, PATCH_H * k
    step = per_px / k
    # dst (X, Y) -> src: centre + (X - (ow-1)/2) * step * u + (Y - (oh-1)/2) * step * v
    m = np.array([[u[0] * step, v[0] * step, 0.0], [u[1] * step, v[1] * step, 0.0]])
    m[:, 2] = centre - m[:, :2] @ ((ow - 1) / 2, (oh - 1) / 2)
    crop = cv2.warpAffine(rgb, m, (ow, oh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if k > 1:
        grey = cv2.resize(grey, (PATCH_W, PATCH_H), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey, dtype=np.uint8)
