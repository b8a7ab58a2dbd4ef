"""The contagion trial on a fake clock: baseline, onset at the flip, response, timeouts, counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.experiment import Outcome, Phase, Trial
from kiosk.experiment_stats import ExperimentStats, export

FRAME = 1000 / 30


def run(trial: Trial, raw_at, *, until_ms: float, flip_delay_ms: float = 8.0, present=lambda t: True,
        kind: str = "duchenne"):
    """Frames every 1/30 s: each is observed (score = raw, eye from `raw_at`), the trial steps,
    and a stimulus frame is 'presented' `flip_delay_ms` after the step. The stimulus starts
    smiling 600 ms into STIMULUS. Returns (outcomes, phases seen, stimulus start)."""
    outcomes, phases, t, stim_start = [], [], 0.0, None
    while t < until_ms:
        here = present(t)
        if here:
            raw, eye = raw_at(t)
            trial.observe(t, raw, raw, eye)
        out = trial.step(t, here, kind)
        if out is not None:
            outcomes.append(out)
        if not phases or phases[-1] is not trial.phase:
            phases.append(trial.phase)
        if trial.phase is Phase.STIMULUS:
            stim_start = t if stim_start is None else stim_start
            trial.presented(t + flip_delay_ms, t - stim_start >= 600)
        t += FRAME
    return outcomes, phases, stim_start


def test_a_smile_back_is_timed_from_the_flip_to_the_frame() -> None:
    trial = Trial(trials_per_visit=1)
    state = {}

    def raw_at(t):
        onset = trial.onset_ms
        if onset is not None and t >= onset + 640:
            return 78.0, 60.0
        return 12.0, 20.0

    outcomes, phases, _ = run(trial, raw_at, until_ms=9000)
    assert phases[:5] == [Phase.SETTLE, Phase.STIMULUS, Phase.WATCH, Phase.ANSWER, Phase.REST][:len(phases[:5])]
    (out,) = outcomes
    assert out.baseline == 12.0 and out.responded and out.genuine
    assert 640 <= out.response_ms < 640 + FRAME and out.crossed_ms == out.response_ms
    assert out.frames >= 89, "every frame of the window was in"


def test_a_trial_with_no_response_is_counted_without_a_response() -> None:
    trial = Trial(trials_per_visit=1)
    outcomes, phases, _ = run(trial, lambda t: (14.0, 20.0), until_ms=9000)
    (out,) = outcomes
    assert not out.responded and out.crossed_ms is None and not out.genuine
    assert Phase.ANSWER in phases


def test_a_small_rise_is_mimicry_before_any_smile() -> None:
    trial = Trial(trials_per_visit=1)

    def raw_at(t):
        o = trial.onset_ms
        if o is None or t < o + 300:
            return 10.0, 10.0
        return (28.0, 10.0) if t < o + 900 else (60.0, 30.0)

    (out,), _, _ = run(trial, raw_at, until_ms=9000)
    assert 300 <= out.response_ms < 300 + FRAME, "the visible start, not the smile"
    assert 900 <= out.crossed_ms < 900 + FRAME and not out.genuine, "a smile without the eyes"


def test_a_visitor_who_leaves_mid_trial_counts_nothing_and_the_next_starts_afresh() -> None:
    trial = Trial()
    outcomes, phases, _ = run(trial, lambda t: (10.0, 10.0), until_ms=12000, present=lambda t: not 3000 <= t < 5000)
    assert phases[:3] == [Phase.SETTLE, Phase.STIMULUS, Phase.WATCH] and Phase.IDLE in phases
    assert len(outcomes) == 1 and outcomes[0].onset_ms > 5000, "only the newcomer's trial was decided"


def test_someone_smiling_already_waits_for_a_calm_second_then_goes_anyway() -> None:
    trial = Trial(trials_per_visit=1)
    outcomes, phases, stim_start = run(trial, lambda t: (70.0, 60.0), until_ms=12000)
    assert stim_start >= 6000, "no calm second: the stimulus starts after settle_max_ms"
    (out,) = outcomes
    assert out.crossed_ms is None, "no 50-crossing from someone already over 50"


def test_a_stimulus_never_shown_times_out() -> None:
    trial = Trial()
    t = 0.0
    while t < 9000:
        trial.observe(t, 10.0, 10.0, 10.0)
        trial.step(t, True, "duchenne")
        t += FRAME
        if trial.phase is Phase.STIMULUS:
            break
    while t < 13000:
        trial.step(t, True, "duchenne")
        t += FRAME
    assert trial.onset_ms is None or trial.phase is not Phase.WATCH


def test_a_lost_face_before_the_onset_makes_the_trial_void() -> None:
    trial = Trial(trials_per_visit=1)
    trial.phase, trial.kind, trial.onset_ms = Phase.WATCH, "duchenne", 5000.0
    trial.observe(4900.0, 10.0, 10.0, 10.0)
    assert trial.decide() is None


def test_two_trials_per_visit_then_rest() -> None:
    trial = Trial(trials_per_visit=2)
    outcomes, phases, _ = run(trial, lambda t: (10.0, 10.0), until_ms=40000)
    assert len(outcomes) == 2 and phases[-1] is Phase.REST


def outcome(kind: str, latency: float | None, genuine: bool = False) -> Outcome:
    return Outcome(kind, 1000.0, 10.0, latency, latency, genuine, 90)


def test_counts_per_kind_are_saved_atomically_and_exported(tmp_path: Path, capsys) -> None:
    stats = ExperimentStats(tmp_path, day=lambda: "2026-12-01")
    for lat, gen in ((640, True), (420, False), (None, False)):
        stats.count(outcome("duchenne", lat, gen))
    stats.count(outcome("mouth-only", None))
    assert stats.least_tried_today(("duchenne", "mouth-only")) == ["mouth-only"]
    stats.close()
    saved = json.loads((tmp_path / "contagion-stats.json").read_text())
    assert saved["days"]["2026-12-01"]["duchenne"] == {"trials": 3, "responses": 2, "genuine": 1,
                                                        "latencies_ms": [640, 420]}
    assert [p.name for p in tmp_path.iterdir()] == ["contagion-stats.json"], "no temporary file left"
    rows = json.loads(export(tmp_path, "json"))
    assert rows[0]["kind"] == "duchenne" and rows[0]["latency_median_ms"] == 530 and rows[0]["response_rate"] == 0.667
    assert main(["stats", "--counts", "contagion", "--format", "csv", "--state-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("day,kind,trials") and lines[2].startswith("2026-12-01,mouth-only,1,0,0.0")
    again = ExperimentStats(tmp_path, day=lambda: "2026-12-01")
    assert again.today()["duchenne"]["trials"] == 3
    again.close()


def test_no_counts_is_a_sentence(tmp_path: Path) -> None:
    assert main(["stats", "--counts", "contagion", "--state-dir", str(tmp_path)]) == 2
