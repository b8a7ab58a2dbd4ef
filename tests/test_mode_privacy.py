"""The privacy promise in coach and contagion mode: a whole session, built from the config as
`run` builds it, writes no image anywhere we look (the state folder, the model cache, the
folder beside the recording); contagion mode writes its counts file and nothing else."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.config import Config
from core.landmarker import MediapipeLandmarker
from kiosk.build import build_app
from kiosk.coach import Phase as CoachPhase
from kiosk.display import RecordingDisplay
from kiosk.experiment import Phase
from tests.conftest import unsmile, write_video

IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"BM", b"GIF8", b"RIFF")


def listing(*folders: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for f in folders if f.exists() for p in f.rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("mode", ["coach", "contagion"])
def test_a_whole_session_writes_no_image(mode: str, astronaut: np.ndarray, model_path: Path, model_cache: Path,
                                         tmp_path: Path) -> None:
    smile = cv2.resize(astronaut, (512, 512))
    with MediapipeLandmarker(model_path, still=True) as lm:
        neutral = unsmile(smile, lm)
    fps = 10
    frames = [neutral] * (3 * fps) + [smile] * (4 * fps) + [neutral] * (3 * fps) + [smile] * (20 * fps)
    media = tmp_path / "media"
    media.mkdir()
    video = write_video(media / "visit.avi", frames, fps)
    state = tmp_path / "state"
    before = listing(state, model_cache, media)
    config = Config().replace({"run.mode": mode, "run.state_dir": str(state), "source.spec": f"video:{video}",
                               "source.pace": False})
    app = build_app(config, model_path, display=RecordingDisplay(screen=(960, 540)), cache=model_cache)
    seen = set()
    step = app.mode.step

    def spy(tick):
        screen = step(tick)
        seen.add(app.mode.view().phase)
        return screen

    app.mode.step = spy
    assert app.run() == 0 and app.stats.loop_errors == 0
    after = listing(state, model_cache, media)
    changed = {p for p in after if before.get(p) != after[p]}
    if mode == "coach":
        assert {CoachPhase.RELAX, CoachPhase.SMILE, CoachPhase.EYES, CoachPhase.RESULT} <= seen
        assert changed == set(), f"coach mode wrote {changed}"
    else:
        assert {Phase.SETTLE, Phase.STIMULUS, Phase.WATCH, Phase.ANSWER} <= seen
        assert changed == {state / "contagion-stats.json"}, changed
    for p in changed:
        assert not p.read_bytes().startswith(IMAGE_MAGIC), f"{p} is an image"
