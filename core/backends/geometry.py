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


def _procrustes(src: np.ndarray, dst: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """4x4 (scale * rotation | translation) taking `src` (3, N) onto `dst` by weighted least squares."""
    sw = np.sqrt(weights)
    ws, wd = src * sw, dst * sw
    total = float(weights.sum())
    centre = (ws * sw).sum(axis=1) / total
    centred = ws - np.outer(centre, sw)
    u, _, vt = np.linalg.svd(wd @ centred.T)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        u[:, 2] *= -1
    rot = u @ vt
    scale = float((rot @ centred * wd).sum() / (centred * ws).sum())
    rs = scale * rot
    translation = ((wd - rs @ ws) * sw).sum(axis=1) / total
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rs, translation
    return out


def pose_matrix(model: GeometryModel, landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 4x4 face pose transform for one face's normalised landmarks (first 468 used)."""
    h_near = 2.0 * NEAR * math.tan(0.5 * math.radians(VERTICAL_FOV_DEG))
    w_near = width * h_near / height
    left, bottom = -0.5 * w_near, -0.5 * h_near
    p = landmarks[:MESH_POINTS].astype(np.float64).T.copy()
    p[1] = 1.0 - p[1]  # origin at the top-left corner
    p *= np.array([[w_near], [h_near], [w_near]])
    p[0] += left
    p[1] += bottom
    depth_offset = float(p[2].mean())

    def scale_of(points: np.ndarray) -> float:
        return float(np.linalg.norm(_procrustes(model.canonical, points, model.weights)[:3, 0]))

    def metric(points: np.ndarray, scale: float) -> np.ndarray:
        q = points.copy()
        q[2] = (q[2] - depth_offset + NEAR) / scale
        q[0] = q[0] * q[2] / NEAR
        q[1] = q[1] * q[2] / NEAR
        q[2] *= -1.0
        return q

    first = p.copy()
    first[2] *= -1.0
    s1 = scale_of(first)
    s2 = scale_of(metric(p, s1))
    return _procrustes(model.canonical, metric(p, s1 * s2), model.weights).astype(np.float32)
