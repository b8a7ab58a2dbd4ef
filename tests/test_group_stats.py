"""Group mode's anonymous counts per hour: atomic, kept across restarts, exported as JSON/CSV;
and `smile-mirror run --mode group` wired end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.group_stats import FILENAME, GroupStats, StatsMissing, export


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.hour = "2025-06-01T14:00+0200"

    def __call__(self) -> float:
        return self.t


def test_counts_go_into_the_hour_and_are_saved_at_most_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    stats = GroupStats(tmp_path, hour=lambda: clock.hour, clock=clock)
    stats.count("visitors", 2)
    stats.count("smiles")
    assert not (tmp_path / FILENAME).exists()
    clock.t = 61
    stats.count("chains")
    stats.flush()
    saved = json.loads((tmp_path / FILENAME).read_text())
    assert saved["hours"] == {clock.hour: {"visitors": 2, "smiles": 1, "links": 0, "chains": 1, "celebrations": 0}}
    clock.hour = "2025-06-01T15:00+0200"
    stats.count("smiles", 3)
    stats.close()
    again = GroupStats(tmp_path, hour=lambda: clock.hour, clock=clock)  # a restart keeps the counts
    again.count("smiles")
    again.close()
    rows = json.loads(export(tmp_path, "json"))
    assert [(r["hour"], r["smiles"]) for r in rows] == [("2025-06-01T14:00+0200", 1), ("2025-06-01T15:00+0200", 4)]
    assert export(tmp_path, "csv").splitlines() == [
        "hour,visitors,smiles,links,chains,celebrations",
        "2025-06-01T14:00+0200,2,1,0,1,0", "2025-06-01T15:00+0200,0,4,0,0,0"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")], "no temporary file is left behind"
    with pytest.raises(ValueError):
        stats.count("faces")


def test_a_damaged_file_or_an_unwritable_folder_never_stops_the_mirror(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_text("{not json")
    stats = GroupStats(tmp_path)
    assert stats.hours == {}
    stats.count("visitors")
    stats.close()
    assert json.loads(export(tmp_path, "json"))[0]["visitors"] == 1
    blocked = tmp_path / "file"
    blocked.write_text("")
    broken = GroupStats(blocked / "sub")  # its folder cannot be created
    broken.count("smiles")
    broken.close()  # logs a warning, raises nothing


def test_old_hours_are_dropped(tmp_path: Path) -> None:
    hours = iter(f"2025-01-{d:02d}T{h:02d}:00" for d in range(1, 4) for h in range(24))
    stats = GroupStats(tmp_path, keep_days=1, save_every_s=0, hour=lambda: next(hours))
    for _ in range(72):
        stats.count("visitors")
    stats.close()
    assert sorted(stats.hours)[0] == "2025-01-03T00:00" and len(stats.hours) == 24


def test_a_quiet_lobby_still_saves_within_the_minute(tmp_path: Path) -> None:
    """Group mode counts every frame, nearly always zeros: those calls must save too."""
    clock = Clock()
    stats = GroupStats(tmp_path, hour=lambda: clock.hour, clock=clock)
    stats.count("smiles")
    for frame in range(1, 70 * 15):  # 70 s at 15 fps, nobody else
        clock.t = frame / 15
        for what in ("visitors", "smiles", "links", "chains", "celebrations"):
            stats.count(what, 0)
    stats.flush()
    saved = json.loads((tmp_path / FILENAME).read_text())
    assert saved["hours"][clock.hour]["smiles"] == 1


def test_hours_older_than_keep_days_are_dropped_however_sparse(tmp_path: Path) -> None:
    hours = iter(["2025-01-01T10:00+0100", "2025-03-01T10:00+0100", "2025-03-03T09:00+0100",
                  "2025-03-03T11:00+0100", "2025-03-05T10:00+0100"])
    stats = GroupStats(tmp_path, keep_days=2, save_every_s=0, hour=lambda: next(hours))
    for _ in range(5):
        stats.count("visitors")
    stats.close()
    assert sorted(stats.hours) == ["2025-03-03T11:00+0100", "2025-03-05T10:00+0100"]


def test_stats_from_a_folder_without_them_fail_and_say_where_to_look(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(StatsMissing, match="--state-dir /var/lib/smile-mirror"):
        export(tmp_path, "json")
    assert main(["stats", "--state-dir", str(tmp_path / "nowhere")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and str(tmp_path / "nowhere") in captured.err


def test_run_mode_group_from_the_command_line(face_video: Path, model_path: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    readings = tmp_path / "r.jsonl"
    assert main(["run", "--mode", "group", "--source", f"video:{face_video}", "--no-pace", "--display", "headless",
                 "--state-dir", str(tmp_path / "state"), "--readings", str(readings),
                 "--model", str(model_path)]) == 0
    lines = [json.loads(x) for x in readings.read_text().splitlines()]
    with_face = [x for x in lines if x["face"]]
    assert with_face and all(len(x["faces"]) >= 1 and x["faces"][0]["id"] == 1 for x in with_face)
    assert {"t_ms", "face", "raw", "score", "kind", "eye_engagement", "faces"} == set(lines[0])
    capsys.readouterr()
    assert main(["stats", "--format", "json", "--state-dir", str(tmp_path / "state")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["visitors"] == 1 and rows[0]["chains"] == 0


def test_the_file_is_written_on_the_writer_thread_and_close_waits_for_it(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow disk holds up the writer, never the display loop that counts."""
    import threading

    import core.statefile as statefile

    started, release, writers = threading.Event(), threading.Event(), []
    real = statefile.write_atomically

    def slow_write(path: Path, data: bytes, *, exclusive: bool = False) -> None:
        writers.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        real(path, data, exclusive=exclusive)

    monkeypatch.setattr(statefile, "write_atomically", slow_write)
    clock = Clock()
    stats = GroupStats(tmp_path, hour=lambda: clock.hour, clock=clock, save_every_s=0)
    stats.count("visitors")  # starts a write, which blocks
    assert started.wait(10)
    for _ in range(50):  # counting goes on meanwhile; these coalesce into one more write
        stats.count("smiles")
    assert not (tmp_path / FILENAME).exists()
    assert writers and all(name.startswith("stats-writer") for name in writers)
    closer = threading.Thread(target=stats.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive(), "close waits for the writer"
    release.set()
    closer.join(10)
    assert len(writers) == 2, "the 50 counts made while the disk was busy are written once"
    saved = json.loads((tmp_path / FILENAME).read_text())
    assert saved["hours"][clock.hour]["smiles"] == 50 and saved["hours"][clock.hour]["visitors"] == 1
