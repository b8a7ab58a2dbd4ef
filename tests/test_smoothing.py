"""The displayed score: steady on a still face, quick when a smile starts (fake clock, plain tables)."""

from __future__ import annotations

import numpy as np
import pytest

from core.smoothing import Hysteresis, OneEuroFilter, band

# The tracker's defaults (core.scoring.SmileTracker) are what these tests hold to the goals.
DEFAULTS = dict(min_cutoff=0.5, beta=0.01)
# Raw-score noise on a still face: measured 0.3-2.2 points (std) with the real landmarker on a
# noisy astronaut at full and 1/3 size; 3 points leaves a margin for a poor webcam.
NOISE = 3.0


def run(signal, hz: float, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = OneEuroFilter(**DEFAULTS)
    t = np.arange(0, 6000, 1000.0 / hz)
    raw = np.array([signal(ti) for ti in t]) + rng.normal(0, noise, len(t))
    return t, raw, np.array([f(x, ti) for x, ti in zip(raw, t)])


@pytest.mark.parametrize("hz", [10, 15, 30])
@pytest.mark.parametrize("seed", range(3))
def test_still_face_wavers_at_most_two_points(hz: float, seed: int) -> None:
    t, raw, out = run(lambda t: 30.0, hz, NOISE, seed)
    settled = out[t >= 1000]
    assert raw[t >= 1000].std() > 2.5
    assert settled.std() <= 2.0


@pytest.mark.parametrize("hz", [10, 15, 30])
@pytest.mark.parametrize("ramp_ms", [0, 150, 300, 600])
@pytest.mark.parametrize("seed", range(3))
def test_smile_crosses_50_within_150ms_of_raw(hz: float, ramp_ms: float, seed: int) -> None:
    start = 3000.0

    def smile(t: float) -> float:  # neutral 20, smile 80, onset as a step or a ramp
        frac = 1.0 if ramp_ms == 0 else np.clip((t - start) / ramp_ms, 0, 1)
        return 20.0 + 60.0 * (frac if t >= start else 0.0)

    t, _, out = run(smile, hz, NOISE, seed)
    truth = np.array([smile(ti) for ti in t])
    raw_cross = t[np.argmax(truth >= 50)]
    after = (t >= start - 200) & (out >= 50)
    assert after.any()
    assert t[np.argmax(after)] - raw_cross <= 150


def test_one_euro_first_sample_passes_through() -> None:
    assert OneEuroFilter()(10.0, 0.0) == 10.0


@pytest.mark.parametrize("repeat_ms", [100.0, 50.0])  # the same time stamp again, an older one
def test_one_euro_repeated_timestamp_holds_the_value_and_learns_nothing(repeat_ms: float) -> None:
    f, twin = OneEuroFilter(**DEFAULTS), OneEuroFilter(**DEFAULTS)
    for x, t in ((10.0, 0.0), (40.0, 100.0)):
        held = f(x, t)
        twin(x, t)
    assert 10.0 < held < 40.0
    assert f(95.0, repeat_ms) == held  # no division by zero, value held
    assert f(60.0, 200.0) == twin(60.0, 200.0), "the ignored sample changed neither value nor speed"


def test_one_euro_reset_and_bad_args() -> None:
    f = OneEuroFilter()
    f(10, 0), f(90, 100)
    f.reset()
    assert f.value is None and f(42, 200) == 42
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)


# proposals (kind, t_ms) -> displayed kind, hold 250 ms
HYSTERESIS_TABLE = [
    ([("none", 0)], ["none"]),
    ([("none", 0), ("posed", 100), ("posed", 300), ("posed", 360)], ["none", "none", "none", "posed"]),
    ([("none", 0), ("posed", 100), ("none", 200), ("posed", 300), ("posed", 500)], ["none"] * 5),  # flicker ignored
    ([("posed", 0), ("genuine", 50), ("posed", 100), ("genuine", 150), ("genuine", 400)],
     ["posed", "posed", "posed", "posed", "genuine"]),
]


@pytest.mark.parametrize("proposals, shown", HYSTERESIS_TABLE)
def test_hysteresis_table(proposals: list, shown: list) -> None:
    h: Hysteresis[str] = Hysteresis(hold_ms=250)
    assert [h(k, t) for k, t in proposals] == shown


def test_hysteresis_reset() -> None:
    h: Hysteresis[str] = Hysteresis(hold_ms=250)
    h("genuine", 0)
    h.reset()
    assert h.state is None and h("none", 10) == "none"


@pytest.mark.parametrize("values, expected", [
    ([40, 55, 45, 41, 39], [False, True, True, True, False]),
    ([59, 61, 50, 30], [False, True, True, False]),
])
def test_band(values: list, expected: list) -> None:
    state, out = False, []
    for v in values:
        state = band(v, state, on=55 if values[0] == 40 else 60, off=40)
        out.append(state)
    assert out == expected
