"""Group mode end to end: videos composed from real face photos side by side, with timed smile
changes, through the real app loop and the real model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.landmarker import MediapipeLandmarker
from core.multiface import NewcomerSearchLandmarker
from core.sources import VideoFileSource
from kiosk.app import App
from kiosk.cli import main
from kiosk.display import RecordingDisplay
from kiosk.group import Group
from kiosk.modes.group import GroupMode
from kiosk.group_stats import GroupStats
from tests.conftest import load_rgb, shared_data, write_video

FPS = 30
TILE = (320, 540)  # three tiles make a 960x540 (16:9) camera frame

# Frontal GENKI-4K photos that read clearly (neutral < 10, smile > 80 with the shipped model).
NEUTRAL = ("images/file2239.jpg", "images/file2281.jpg", "images/file2227.jpg")
SMILE = ("images/file0006.jpg", "images/file0093.jpg", "images/file0127.jpg")


@pytest.fixture(scope="module")
def still(model_path: Path):
    with MediapipeLandmarker(model_path, still=True) as lm:
        yield lm


def tile(rgb: np.ndarray, lm: MediapipeLandmarker, size=TILE) -> np.ndarray:
    """The photo cropped around its face so every face has the same size and place in a tile."""
    faces = lm.detect(rgb, 0.0)
    assert faces, "test photo without a face"
    x0, y0, x1, y1 = faces[0].box
    h, w = rgb.shape[:2]
    cx, cy, fw = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h, (x1 - x0) * w
    cw = 2.3 * fw
    ch = cw * size[1] / size[0]
    m = np.float32([[size[0] / cw, 0, size[0] / 2 - cx * size[0] / cw],
                    [0, size[1] / ch, size[1] * 0.52 - cy * size[1] / ch]])
    return cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def run_group(video: Path, model_path: Path, tmp_path: Path, *, max_faces: int = 4, save=None):
    stats = GroupStats(tmp_path / "state")
    group = Group(max_faces=max_faces, stats=stats)
    display = RecordingDisplay(screen=(1280, 720))
    with open(tmp_path / "readings.jsonl", "w") as readings:
        app = App(open_source=lambda: VideoFileSource(video, pace=False),
                  landmarker=NewcomerSearchLandmarker(model_path, max_faces=max_faces), display=display,
                  readings=readings, mode=GroupMode(group))
        if save is not None:
            draw = app.renderer.draw

            def spy(view, mode):
                draw(view, mode)
                save(view, display.snapshot())

            app.renderer.draw = spy
        assert app.run() == 0
    assert app.stats.loop_errors == 0
    lines = [json.loads(x) for x in (tmp_path / "readings.jsonl").read_text().splitlines()]
    return app, group, lines


def at(lines: list[dict], t_ms: float) -> dict:
    """The last readings line at or before t_ms."""
    return [x for x in lines if x["t_ms"] <= t_ms][-1]


def slot_of(face: dict) -> int:
    return int((face["box"][0] + face["box"][2]) / 2 * 3)


@pytest.mark.skipif(shared_data() is None, reason="../shared/data/genki4k-dev is not here (real face photos)")
def test_three_people_smile_one_after_another(model_path: Path, still, tmp_path: Path) -> None:
    root = shared_data() / "genki4k-dev"
    neutral = [tile(load_rgb(root / p), still) for p in NEUTRAL]
    smile = [tile(load_rgb(root / p), still) for p in SMILE]
    onsets_s = (1.5, 2.7, 3.9)  # 1.2 s apart: inside the 0.3-3 s contagion window
    frames = []
    for i in range(int(6.5 * FPS)):
        t = i / FPS
        frames.append(np.hstack([smile[k] if t >= onsets_s[k] else neutral[k] for k in range(3)]))
    video = write_video(tmp_path / "three.avi", frames, FPS)
    shots: dict[str, np.ndarray] = {}

    def save(view, img) -> None:
        g = view.mode
        if g is None:
            return
        if g.sparks and 0.35 < g.sparks[-1].progress < 0.6 and g.smiling == 2:
            shots.setdefault("spark", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if g.celebration > 0.25:
            shots.setdefault("celebration", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))

    app, group, lines = run_group(video, model_path, tmp_path, save=save)

    # per-face readings: three people, each keeping one id at their own place
    ids_by_slot: dict[int, set] = {0: set(), 1: set(), 2: set()}
    for line in lines:
        for f in line["faces"]:
            ids_by_slot[slot_of(f)].add(f["id"])
    assert all(len(ids) == 1 for ids in ids_by_slot.values()), ids_by_slot
    assert group.tracks.started == 3

    def scores(t_s: float) -> list[float]:
        faces = sorted(at(lines, t_s * 1000)["faces"], key=slot_of)
        assert len(faces) == 3, faces
        return [f["score"] for f in faces]

    assert all(s < 30 for s in scores(1.3))
    a, b, c = scores(2.5)
    assert a >= 60 and b < 30 and c < 30
    a, b, c = scores(3.7)
    assert a >= 60 and b >= 60 and c < 30
    assert all(s >= 70 for s in scores(6.4))
    assert {f["kind"] for f in at(lines, 6400)["faces"]} <= {"genuine", "posed"}

    # contagion: A -> B -> C is one chain of three, and then everybody smiles
    links = list(group.links)
    assert [(slot_of_id(ids_by_slot, l.source), slot_of_id(ids_by_slot, l.target)) for l in links] == [(0, 1), (1, 2)]
    assert all(900 <= l.delay_ms <= 1500 for l in links), [l.delay_ms for l in links]
    assert group.contagion.chains_total == 1 and group.contagion.longest_chain == 3
    assert group.contagion.celebrations_total == 1

    # anonymous statistics, exported as the venue gets them
    rows = json.loads(_export(tmp_path, "json"))
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("visitors", "smiles", "links", "chains", "celebrations")} == \
        {"visitors": 3, "smiles": 3, "links": 2, "chains": 1, "celebrations": 1}
    text = (tmp_path / "state" / "group-stats.json").read_text()
    assert "box" not in text and "score" not in text, "counts only: no positions, no readings"
    table = list(csv.DictReader(_export(tmp_path, "csv").splitlines()))
    assert table[0]["links"] == "2"

    # what the lobby sees
    assert set(shots) == {"spark", "celebration"}
    for name, img in shots.items():
        cv2.imwrite(str(tmp_path / f"group-{name}.png"), img)
    gold = np.abs(shots["spark"].astype(int) - (84, 206, 255)).max(axis=2) <= 40  # BGR of the spark's gold
    assert gold.sum() > 300


def slot_of_id(ids_by_slot: dict[int, set], track_id: int) -> int:
    return next(s for s, ids in ids_by_slot.items() if track_id in ids)


def _export(tmp_path: Path, fmt: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["stats", "--format", fmt, "--state-dir", str(tmp_path / "state")]) == 0
    return out.getvalue()


def test_two_astronauts_and_a_newcomer_keep_their_own_scores(model_path: Path, astronaut: np.ndarray, chelsea,
                                                            still, tmp_path: Path) -> None:
    """No GENKI needed: the astronaut twice (one mirrored), drifting; a third face replaces the cat."""
    face = tile(astronaut, still)
    twin = face[:, ::-1].copy()
    cat = cv2.resize(chelsea, TILE)
    frames = []
    for i in range(int(3.0 * FPS)):
        shift = int(24 * np.sin(i / FPS * 2.0))  # people sway left and right
        left = np.roll(face, shift, axis=1)
        frames.append(np.hstack([left, cat if i < 1.2 * FPS else twin, np.roll(twin, -shift, axis=1)]))
    video = write_video(tmp_path / "twins.avi", frames, FPS)
    app, group, lines = run_group(video, model_path, tmp_path)
    before = at(lines, 1100)["faces"]
    assert sorted(slot_of(f) for f in before) == [0, 2]
    arrived = next(x["t_ms"] for x in lines if len(x["faces"]) == 3)
    assert arrived - 1200 <= 700, "a newcomer is found within a search period (500 ms) and a frame or two"
    end = at(lines, 3000)["faces"]
    assert len(end) == 3 and all(f["score"] >= 50 for f in end)
    assert group.tracks.started == 3, "swaying faces keep their ids"
    assert group.contagion.links_total == 0, "arriving already smiling is no contagion"
