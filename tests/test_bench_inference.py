"""The bench's side-by-side pure inference: turns that rotate, each contender on its own frames
and clock, and the real backends in their own processes on a real face video."""

from __future__ import annotations

import os

import numpy as np

from kiosk.bench_inference import CHUNK, WARM_UP, Local, side_by_side, take_turns


def test_turns_rotate_so_no_contender_always_follows_the_same_one() -> None:
    order: list[str] = []
    frame = [np.zeros((2, 2, 3), np.uint8)]
    contenders = [Local(n, lambda rgb, t, n=n: order.append(n), frame) for n in "abc"]
    tallies = take_turns(contenders, 4 * CHUNK)
    timed = order[len(contenders) * WARM_UP:]
    assert [timed[i] for i in range(0, len(timed), CHUNK)] == list("abc" "bca" "cab" "abc")
    assert [t.frames for t in tallies] == [4 * CHUNK] * 3 and all(len(t.turns) == 4 for t in tallies)


def test_each_contender_keeps_its_own_frames_and_clock() -> None:
    seen: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    images = [np.full((2, 2, 3), i, np.uint8) for i in range(7)]
    contenders = [Local(n, lambda rgb, t, n=n: seen[n].append((int(rgb[0, 0, 0]), t)), images) for n in seen]
    take_turns(contenders, 2 * CHUNK + 5)
    for calls in seen.values():
        assert len(calls) == WARM_UP + 2 * CHUNK + 5
        assert [img for img, _ in calls] == [i % 7 for i in range(len(calls))]
        assert all(b - a == 33 for (_, a), (_, b) in zip(calls, calls[1:]))


def test_both_backends_side_by_side_in_their_own_processes(model_path, face_video) -> None:
    from core.armcpu import mediapipe_blocker

    backends = ("litert",) if mediapipe_blocker() else ("litert", "mediapipe")
    cpu = min(os.sched_getaffinity(0))
    out = side_by_side(face_video, model_path, backends, CHUNK, 320, 240, {cpu})
    lite = out["litert"]
    for key in ("pure_inference_ms", "pure_inference_wall_ms", "pure_inference_ms_2t", "pure_inference_wall_ms_2t"):
        assert 0.3 < lite[key] < 1000, key
    assert lite["cpus"] == [cpu] and lite["cpus_2t"] == [cpu]
    assert 50 < lite["peak_rss_mb"] < 1000 and 50 < lite["peak_rss_mb_2t"] < 1000
    if "mediapipe" in backends:
        for key in ("pure_inference_wall_ms", "pure_inference_wall_ms_seam"):  # the bare task, then the backend
            assert 0.3 < out["mediapipe"][key] < 1000, key
        low, median, high = lite["ratio_turns"]
        assert 0 < low <= median <= high
