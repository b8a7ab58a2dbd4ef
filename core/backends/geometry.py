"""The head-pose matrix from face landmarks, as MediaPipe's face geometry pipeline makes it.

The bundle's `geometry_pipeline_metadata_landmarks.binarypb` holds the canonical face mesh
(468 vertices, metric units) and the landmarks (with weights) that the weighted Procrustes fit
uses. The landmarks are put in a virtual perspective camera (vertical field of view 63 degrees,
near plane 1), their depth is recovered in two passes of scale estimation, and the
canonical-to-runtime rigid transform (scale x rotation, translation) is solved by weighted
orthogonal Procrustes. The protobuf is read with a small wire-format reader, so the backend
needs no protobuf package.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

VERTICAL_FOV_DEG = 63.0
NEAR = 1.0
MESH_POINTS = 468


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of one protobuf message; length-delimited values as bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield num, wt, val


@dataclass(frozen=True)
class GeometryModel:
    canonical: np.ndarray   # (3, 468) metric canonical face
    weights: np.ndarray     # (468,) Procrustes weights

    @cached_property
    def fit(self) -> "ProcrustesFit":
        return ProcrustesFit.of(self.canonical, self.weights)


def parse_metadata(data: bytes) -> GeometryModel:
    """GeometryPipelineMetadata: canonical_mesh = 1 (Mesh3d: vertex_buffer = 3, five floats a
    vertex: x, y, z, u, v), procrustes_landmark_basis = 2 ({landmark_id = 1, weight = 2})."""
    vertices: list[float] = []
    weights = np.zeros(MESH_POINTS, dtype=np.float64)
    for num, wt, val in _fields(data):
        if num == 1 and wt == 2:
            for mnum, mwt, mval in _fields(val):
                if mnum == 3 and mwt == 2:
                    vertices.extend(struct.unpack(f"<{len(mval) // 4}f", mval))
                elif mnum == 3 and mwt == 5:
                    vertices.append(struct.unpack("<f", mval)[0])
        elif num == 2 and wt == 2:
            lid, w = 0, 0.0
            for bnum, bwt, bval in _fields(val):
                if bnum == 1 and bwt == 0:
                    lid = bval
                elif bnum == 2 and bwt == 5:
                    w = struct.unpack("<f", bval)[0]
            if lid < MESH_POINTS:
                weights[lid] = w
    v = np.array(vertices, dtype=np.float64).reshape(-1, 5)
    if len(v) != MESH_POINTS or not weights.any():
        raise ValueError(f"geometry metadata holds {len(v)} vertices, expected {MESH_POINTS}")
    return GeometryModel(canonical=v[:, :3].T.copy(), weights=weights)


@dataclass(frozen=True)
class ProcrustesFit:
    """The weighted orthogonal Procrustes fit of the canonical face onto runtime points, with
    everything that depends on the canonical face alone worked out once: a head pose is three
    fits a face a frame, and only the landmarks with a weight (33 of 468) take part."""
    index: np.ndarray      # (K,) the weighted landmarks
    sqrt_weights: np.ndarray  # (K,)
    shares: np.ndarray     # (K,) weights / their sum
    centre: np.ndarray     # (3,) the canonical face's weighted centroid
    centred: np.ndarray    # (3, K) (canonical - centre) * sqrt_weights
    spread: float          # sum of (canonical - centre) * canonical * weights

    @classmethod
    def of(cls, canonical: np.ndarray, weights: np.ndarray) -> "ProcrustesFit":
        index = np.flatnonzero(weights > 0)
        w = weights[index].astype(np.float64)
        src = canonical[:, index].astype(np.float64)
        shares = w / w.sum()
        centre = src @ shares
        sw = np.sqrt(w)
        centred = (src - centre[:, None]) * sw
        return cls(index, sw, shares, centre, centred, float((centred * src * sw).sum()))

    def solve(self, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(scale, rotation 3x3, translation 3) taking the canonical face onto `dst` (3, K), the
        weighted landmarks only: least squares on the weights."""
        cov = (dst * self.sqrt_weights) @ self.centred.T
        u, _, vt = np.linalg.svd(cov)
        rot = u @ vt
        if np.linalg.det(rot) < 0:  # a reflection: flip the weakest axis
            u[:, 2] *= -1
            rot = u @ vt
        scale = float((rot * cov).sum()) / self.spread
        return scale, rot, dst @ self.shares - scale * (rot @ self.centre)


def pose_matrix(model: GeometryModel, landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 4x4 face pose transform for one face's normalised landmarks (its first 468: the mesh)."""
    h_near = 2.0 * NEAR * math.tan(0.5 * math.radians(VERTICAL_FOV_DEG))
    w_near = width * h_near / height
    fit = model.fit
    depth_offset = w_near * float(landmarks[:MESH_POINTS, 2].mean(dtype=np.float64))  # the whole mesh's, as MediaPipe's
    p = landmarks[fit.index].astype(np.float64).T  # (3, K): the fit reads the weighted landmarks only
    p[1] = 1.0 - p[1]  # origin at the top-left corner
    p *= np.array([[w_near], [h_near], [w_near]])
    p[0] -= 0.5 * w_near
    p[1] -= 0.5 * h_near

    def metric(points: np.ndarray, scale: float) -> np.ndarray:
        q = points.copy()
        q[2] = (q[2] - depth_offset + NEAR) / scale
        q[0] = q[0] * q[2] / NEAR
        q[1] = q[1] * q[2] / NEAR
        q[2] *= -1.0
        return q

    first = p.copy()
    first[2] *= -1.0
    s1 = abs(fit.solve(first)[0])
    s2 = abs(fit.solve(metric(p, s1))[0])
    scale, rot, translation = fit.solve(metric(p, s1 * s2))
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = scale * rot, translation
    return out.astype(np.float32)
