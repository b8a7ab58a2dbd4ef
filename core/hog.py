"""A histogram of oriented gradients (HOG) of the mouth patch, in numpy.

Why HOG: the landmarks and blendshapes never see teeth, lip texture or the creases at the
mouth corners; the gradient orientations of the mouth patch do. Why numpy: it is the only
run-time dependency it needs (OpenCV 5's headless wheel has no `HOGDescriptor`), and at
48x24 px it costs well under a millisecond.

The recipe (Dalal & Triggs): gradients by [-1, 0, 1] (edge pixels repeated), unsigned
orientation in 9 bins of 20 degrees with each pixel's magnitude split linearly between the two
nearest bins, 8x8 px cells, blocks of 2x2 cells stepping one cell, each block L2-Hys normalised
(L2, clip at 0.2, L2 again). A 24x48 patch has 3x6 cells, 2x5 blocks: 360 values.
"""

from __future__ import annotations

import numpy as np

CELL = 8
BINS = 9
CLIP = 0.2
EPS = 1e-6


def hog_size(height: int, width: int) -> int:
    """Number of HOG values for a patch of this size."""
    return (height // CELL - 1) * (width // CELL - 1) * 4 * BINS


def hog(patch: np.ndarray) -> np.ndarray:
    """HOG of a grey (H, W) patch (H and W multiples of 8, at least 16) as float32 values."""
    img = np.asarray(patch, np.float32)
    h, w = img.shape
    cy, cx = h // CELL, w // CELL
    if cy < 2 or cx < 2 or h != cy * CELL or w != cx * CELL:
        raise ValueError(f"HOG patch must be at least 16x16 with sides a multiple of {CELL}, not {w}x{h}")
    p = np.pad(img, 1, mode="edge")
    gx = p[1:-1, 2:] - p[1:-1, :-2]
    gy = p[2:, 1:-1] - p[:-2, 1:-1]
    mag = np.hypot(gx, gy).ravel()
    pos = (np.arctan2(gy, gx).ravel() % np.pi) * (BINS / np.pi) - 0.5  # in bins, 0 = centre of bin 0
    lo = np.floor(pos)
    frac = pos - lo
    lo = lo.astype(np.intp) % BINS
    hi = (lo + 1) % BINS
    cell = ((np.arange(h) // CELL)[:, None] * cx + (np.arange(w) // CELL)[None, :]).ravel() * BINS
    n = cy * cx * BINS
    hist = (np.bincount(cell + lo, mag * (1.0 - frac), n) + np.bincount(cell + hi, mag * frac, n)).reshape(cy, cx, BINS)
    blocks = np.concatenate([hist[:-1, :-1], hist[:-1, 1:], hist[1:, :-1], hist[1:, 1:]], axis=2)  # (cy-1, cx-1, 36)
    blocks = blocks.reshape(-1, 4 * BINS)
    blocks /= np.sqrt((blocks ** 2).sum(1, keepdims=True) + EPS)
    np.minimum(blocks, CLIP, out=blocks)
    blocks /= np.sqrt((blocks ** 2).sum(1, keepdims=True) + EPS)
    return blocks.ravel().astype(np.float32)
