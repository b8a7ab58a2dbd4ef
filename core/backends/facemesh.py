"""The arithmetic MediaPipe's Face Landmarker graphs do around its three models, as pure functions.

Followed from MediaPipe's public graphs (face_detector_graph.cc, face_landmarks_detector_graph.cc,
face_blendshapes_graph.cc and the calculators they use), so the LiteRT backend gives the same
numbers as the Tasks API:
- detector: the whole frame letterboxed to 128x128 in [-1, 1]; 896 SSD anchors (strides 8/16/16/16,
  fixed size); sigmoid scores clipped at +-100; weighted non-maximum suppression (IoU 0.5);
  a rectangle around each face rotated by the eye keypoints (0 -> 1), scaled x1.5;
- landmarks: that rectangle cut out to 256x256 in [0, 1], 478 points projected back; the next
  frame's rectangle from all landmarks, rotated by landmarks 33 -> 263, squared, scaled x1.5;
- blendshapes: a fixed subset of 146 landmarks in pixels.

The crop maps the rectangle's corners onto the output's corners (OpenCV's perspective warp of
the rectangle's box points, as MediaPipe's CPU converter does): no half-pixel shift. That one
convention decides landmark parity with mediapipe (a half-pixel crop errs ~0.4 px on average).
It also samples as mediapipe's own OpenCV does: OpenCV's classic fixed-point bilinear warp
(source positions rounded to 1/32 pixel, 15-bit weights, halves rounded up). OpenCV 4.10, which
every lock pins, still is that warp; 4.11 and 5.x warp uint8 in floating point instead, which
moves pixels by one grey level here and there: enough to shift the detector's keypoints by
~0.1 px and the landmarks by ~0.05 px, to which the blendshape model is sensitive (genki4k
stills: 81% of faces within 0.02 of mediapipe's blendshapes with that warp, all 3567 with
`fixed_point_maps`, which stand in for the classic warp under such an OpenCV).

Rectangles here are in pixels: `Roi(cx, cy, w, h, rotation)`, rotation in radians, clockwise
on screen (image y points down).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

log = logging.getLogger(__name__)

DETECTOR_SIZE = 128
LANDMARKS_SIZE = 256
SCORE_CLIP = 100.0
NMS_IOU = 0.5                 # FaceDetectorGraphOptions.min_suppression_threshold's default
DETECTOR_SCALE = 1.5          # RectTransformation after the detector
TRACK_SCALE = 1.5             # ... and after the landmarks, with square_long
EYE_R, EYE_L = 33, 263        # landmarks whose line sets the next rectangle's rotation

# The blendshape model's input: these landmarks' (x, y) in pixels (face_blendshapes_graph.cc).
BLENDSHAPE_SUBSET = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67,
    70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146,
    148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181,
    185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293,
    295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361,
    362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398,
    400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477)

BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight")


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated rectangle in pixels."""

    cx: float
    cy: float
    w: float
    h: float
    rotation: float = 0.0

    def box(self) -> tuple[float, float, float, float]:
        """The axis-aligned bounds (x0, y0, x1, y1), ignoring rotation."""
        return (self.cx - self.w / 2, self.cy - self.h / 2, self.cx + self.w / 2, self.cy + self.h / 2)


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector hit in pixels: box (x0, y0, x1, y1), score, six keypoints (6, 2)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


def normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_of(p0: np.ndarray, p1: np.ndarray) -> float:
    """The rectangle rotation that makes the line p0 -> p1 (pixels) horizontal."""
    return normalize_radians(-math.atan2(-(float(p1[1]) - float(p0[1])), float(p1[0]) - float(p0[0])))


# ---- crops ----------------------------------------------------------------------------------

INTER_BITS = 5  # OpenCV's fixed-point warp: source positions in 1/32 pixel (INTER_TAB_SIZE 32)
WARP_BLOCK = 32  # ... computed in blocks of 32 * 32 output pixels (its BLOCK_SZ)


def fixed_point_maps(inverse: np.ndarray, size: int,
                     rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The maps OpenCV's classic fixed-point `warpPerspective` (the one mediapipe's crops
    reproduce exactly) computes for the output pixels from the inverse matrix: integer source
    pixel (int16 pairs) and the 1/32-pixel bilinear table index (uint16), for `cv2.remap`, which
    interpolates such maps in fixed point as that warp did.

    The arithmetic is its WarpPerspectiveInvoker's, operation for operation, because a letterbox
    scale such as 350/128 puts many positions exactly halfway between two 1/32 steps, where the
    last bit of the double decides the rounding: the output is walked in blocks of 64 columns by
    16 rows; per row, x0 = m0 * block_x + m1 * y + m2 and then (x0 + m0 * dx) * (32 / w), rounded
    half to even. `rows` (start, stop) computes those output rows only, the same numbers."""
    tab = 1 << INTER_BITS
    m = inverse.reshape(-1).astype(np.float64)
    block_rows = min(WARP_BLOCK // 2, size)
    cols = min(WARP_BLOCK * WARP_BLOCK // block_rows, size)
    blocks = -(-size // cols)
    block_x = np.arange(blocks, dtype=np.float64)[None, :] * cols
    first, stop = rows if rows is not None else (0, size)
    height = stop - first
    y = np.arange(first, stop, dtype=np.float64)[:, None]
    dx = np.arange(cols, dtype=np.float64)[None, None, :]

    def walked(a: float, b: float, c: float) -> np.ndarray:
        """a * block_x + b * y + c once per block and row, plus a * dx per column: (rows, size)."""
        out = np.add((a * block_x + b * y + c)[:, :, None], a * dx).reshape(height, blocks * cols)
        return out if blocks * cols == size else np.ascontiguousarray(out[:, :size])

    # OpenCV's own arithmetic does the rest in single passes, with the warp's own rounding:
    # 32 / w (0 where w is 0) and saturate_cast<int>(x * w), which rounds half to even.
    w = cv2.divide(float(tab), walked(m[6], m[7], m[8]))
    fx = cv2.multiply(walked(m[0], m[1], m[2]), w, dtype=cv2.CV_32S)
    fy = cv2.multiply(walked(m[3], m[4], m[5]), w, dtype=cv2.CV_32S)
    whole = np.empty((height, size, 2), np.int16)
    short = np.iinfo(np.int16)
    for k, f in enumerate((fx, fy)):
        whole[..., k] = np.clip(f >> INTER_BITS, short.min, short.max)
    fy &= tab - 1
    fy <<= INTER_BITS
    fx &= tab - 1
    fy |= fx
    return whole, fy.astype(np.uint16)


def crop_matrix(roi: Roi, size: int) -> np.ndarray:
    """The perspective matrix taking `roi`'s corners onto a size x size output's corners."""
    src = cv2.boxPoints(((roi.cx, roi.cy), (roi.w, roi.h), math.degrees(roi.rotation)))
    dst = np.array([[0, size], [0, 0], [size, 0], [size, size]], dtype=np.float32)
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst)


def remap_crop(rgb: np.ndarray, m: np.ndarray, size: int, *, zero_border: bool,
               rows: tuple[int, int] | None = None) -> np.ndarray:
    """The crop through `fixed_point_maps` and `cv2.remap`: the classic warp's samples with any
    OpenCV. `rows` (start, stop) cuts out just those rows of it."""
    _, inverse = cv2.invert(m)  # as warpPerspective inverts it (LU, doubles)
    whole, frac = fixed_point_maps(inverse, size, rows)
    border = cv2.BORDER_CONSTANT if zero_border else cv2.BORDER_REPLICATE
    return cv2.remap(rgb, whole, frac, cv2.INTER_LINEAR, borderMode=border, borderValue=0)


@lru_cache(maxsize=1)
def opencv_warps_in_fixed_point() -> bool:
    """Whether the installed OpenCV's own `warpPerspective` is the classic fixed-point one
    (OpenCV <= 4.10, as every lock pins): then it cuts the crops, in C++, ~2.5x faster than the
    maps. Decided by the samples, not by the version: a rotated crop and a letterbox whose
    positions fall halfway between 1/32 steps, each compared with `remap_crop`."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (90, 140, 3), np.uint8)
    for roi, size, zero in ((Roi(61.3, 47.9, 83.1, 77.4, 0.37), 64, False), (letterbox_roi(140, 90), 128, True)):
        m = crop_matrix(roi, size)
        border = cv2.BORDER_CONSTANT if zero else cv2.BORDER_REPLICATE
        own = cv2.warpPerspective(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
        if not np.array_equal(own, remap_crop(img, m, size, zero_border=zero)):
            log.info("OpenCV %s warps in floating point: crops are cut through fixed-point maps", cv2.__version__)
            return False
    return True


def crop(rgb: np.ndarray, roi: Roi, size: int, *, zero_border: bool,
         rows: tuple[int, int] | None = None) -> np.ndarray:
    """`roi` of the image resampled to size x size uint8, its corners on the output's corners,
    sampled in OpenCV's fixed point as mediapipe's converter is, whichever OpenCV is installed:
    its own `warpPerspective` where that is still the classic one, else `remap_crop` (OpenCV
    >= 4.11 warps in floating point and misses mediapipe by a grey level). `rows` (start, stop)
    cuts out just those rows."""
    m = crop_matrix(roi, size)
    if rows is None and opencv_warps_in_fixed_point():
        border = cv2.BORDER_CONSTANT if zero_border else cv2.BORDER_REPLICATE
        return cv2.warpPerspective(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
    return remap_crop(rgb, m, size, zero_border=zero_border, rows=rows)


def letterbox_roi(width: int, height: int, window: tuple[int, int, int, int] | None = None,
                  border: float = 1.0) -> Roi:
    """The square rectangle the detector sees: the frame (or a window of it), padded to square;
    `border` > 1 adds a black margin around it (a face that fills the image needs one)."""
    x0, y0, w, h = window if window is not None else (0, 0, width, height)
    side = float(max(w, h)) * border
    return Roi(x0 + w / 2, y0 + h / 2, side, side, 0.0)


def to_image(points_unit: np.ndarray, roi: Roi) -> np.ndarray:
    """Points in a crop's unit square (N, 2) to image pixels."""
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    x = (points_unit[:, 0] - 0.5) * roi.w
    y = (points_unit[:, 1] - 0.5) * roi.h
    return np.stack([c * x - s * y + roi.cx, s * x + c * y + roi.cy], axis=1)


# ---- detector -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def ssd_anchors() -> np.ndarray:
    """(896, 2) anchor centres in the unit square, in the model's output order."""
    strides = (8, 16, 16, 16)
    out: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        last, per_cell = layer, 0
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2  # aspect ratio 1.0 plus the interpolated scale
            last += 1
        cells = math.ceil(DETECTOR_SIZE / strides[layer])
        for y in range(cells):
            for x in range(cells):
                out.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
        layer = last
    return np.array(out, dtype=np.float64)


def detector_input(rgb: np.ndarray, roi: Roi) -> np.ndarray:
    img = crop(rgb, roi, DETECTOR_SIZE, zero_border=True)
    return (img.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0))[None]


def decode_detections(regressors: np.ndarray, scores: np.ndarray, roi: Roi, min_score: float,
                      max_faces: int) -> list[Detection]:
    """Raw detector outputs to detections in image pixels, best first, after weighted NMS."""
    raw = regressors.reshape(-1, 16).astype(np.float64)
    logits = np.clip(scores.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    prob = 1.0 / (1.0 + np.exp(-logits))
    keep = np.nonzero(prob >= min_score)[0]
    if len(keep) == 0:
        return []
    anchors = ssd_anchors()[keep]
    r = raw[keep] / DETECTOR_SIZE
    cx, cy = r[:, 0] + anchors[:, 0], r[:, 1] + anchors[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = r[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    merged = weighted_nms(boxes, prob[keep], kps, NMS_IOU)[:max_faces]
    out = []
    for box, score, kp in merged:
        corners = to_image(np.array([[box[0], box[1]], [box[2], box[3]]]), roi)
        out.append(Detection(box=(float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]),
                                  float(corners[1, 1])), score=float(score), keypoints=to_image(kp, roi)))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box `a` (4,) against boxes `b` (N, 4)."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where((inter > 0) & (union > 0), inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                 threshold: float) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's weighted NMS: each best remaining box absorbs those overlapping it by more
    than `threshold`, its coordinates averaged by score; it keeps its own score."""
    order = np.argsort(-scores, kind="stable")
    out = []
    while len(order):
        top = order[0]
        sim = iou(boxes[top], boxes[order])
        group, order = order[sim > threshold], order[sim <= threshold]
        if len(group) == 0:  # a degenerate box overlaps nothing, not even itself
            group, order = np.array([top]), order[order != top]
        wts = scores[group][:, None]
        total = float(wts.sum())
        out.append(((boxes[group] * wts).sum(0) / total, float(scores[top]),
                    (keypoints[group] * wts[:, :, None]).sum(0) / total))
    return out


def roi_from_detection(det: Detection) -> Roi:
    x0, y0, x1, y1 = det.box
    rot = rotation_of(det.keypoints[0], det.keypoints[1])
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * DETECTOR_SCALE, (y1 - y0) * DETECTOR_SCALE, rot)


# ---- landmarks ------------------------------------------------------------------------------

def landmarks_input(rgb: np.ndarray, roi: Roi) -> np.ndarray:
    img = crop(rgb, roi, LANDMARKS_SIZE, zero_border=False)
    return np.multiply(img, np.float32(1.0 / 255.0), dtype=np.float32)[None]


def landmarks_input_rows(rgb: np.ndarray, roi: Roi, rows: tuple[int, int], out: np.ndarray) -> None:
    """Rows (start, stop) of `landmarks_input` written into `out` (stop - start, 256, 3) float32:
    two threads can each make a part of one input."""
    img = crop(rgb, roi, LANDMARKS_SIZE, zero_border=False, rows=rows)
    np.multiply(img, np.float32(1.0 / 255.0), out=out)


def project_landmarks(raw: np.ndarray, roi: Roi, width: int, height: int) -> np.ndarray:
    """The model's 478 x (x, y, z) in crop pixels to (478, 3) normalised to the image, z scaled
    like x (by the image width), as MediaPipe's LandmarkProjection does."""
    pts = raw.reshape(-1, 3).astype(np.float64) / LANDMARKS_SIZE
    xy = to_image(pts[:, :2], roi)
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    z_scale = math.hypot(roi.w * c / width, roi.w * s / height)
    return np.column_stack([xy[:, 0] / width, xy[:, 1] / height, pts[:, 2] * z_scale]).astype(np.float32)


def roi_from_landmarks(landmarks: np.ndarray, width: int, height: int) -> Roi:
    """The next frame's rectangle: all landmarks' bounds, rotated by 33 -> 263, squared, x1.5."""
    x = landmarks[:, 0].astype(np.float64) * width
    y = landmarks[:, 1].astype(np.float64) * height
    rot = rotation_of(np.array([x[EYE_R], y[EYE_R]]), np.array([x[EYE_L], y[EYE_L]]))
    side = max(x.max() - x.min(), y.max() - y.min()) * TRACK_SCALE
    return Roi((x.min() + x.max()) / 2, (y.min() + y.max()) / 2, side, side, rot)


def blendshapes_input(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    sub = landmarks[list(BLENDSHAPE_SUBSET), :2].astype(np.float32) * np.array([width, height], np.float32)
    return sub[None]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-SCORE_CLIP, min(SCORE_CLIP, float(x)))))
