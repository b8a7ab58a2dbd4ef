"""Model variants built from the official bundle, the accuracy gate, and `model tune`.

The build needs the build-only tools of requirements/build.txt in their own venv (.venv/build,
or $SMILE_MIRROR_BUILD_PYTHON); the tests that build skip with that reason when it is absent.
Everything else (manifest, fallback, config writing, choice) runs anywhere.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import assets, variants
from core.errors import ModelError
from core.offline import gate, model_tools


def _build_python() -> str | None:
    try:
        return model_tools.build_python()
    except ModelError:
        return None


needs_build_tools = pytest.mark.skipif(
    _build_python() is None,
    reason="model build tools absent: create .venv/build from requirements/build.txt (see core/VARIANTS.md)")


@pytest.fixture(scope="module")
def built(model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder with the official model and all three variants, built from it."""
    python = _build_python()
    if python is None:
        pytest.skip("model build tools absent")
    cache = tmp_path_factory.mktemp("variants")
    for asset in (assets.MODEL, assets.ASTRONAUT):
        shutil.copy(model_cache / asset.filename, cache / asset.filename)
    result = model_tools.run_build(cache / assets.MODEL.filename, cache, variants.VARIANTS, python)
    assert set(result) == set(variants.VARIANTS)
    model_tools.write_manifest(cache, {n: {"sha256": b["sha256"], "size": b["size"],
                                           "gate": gate.recorded_gate(b["sha256"]) or {"passed": False}}
                                       for n, b in result.items()})
    return cache


def _observe(path: Path, rgb: np.ndarray):
    from core.landmarker import MediapipeLandmarker

    with MediapipeLandmarker(path, still=True) as lm:
        return lm.detect(rgb, 0.0)


@needs_build_tools
@pytest.mark.model
def test_build_repacks_the_official_members_uncompressed_and_reproducibly(built: Path) -> None:
    with zipfile.ZipFile(built / assets.MODEL.filename) as z:
        official = [(i.filename, i.date_time) for i in z.infolist()]
    manifest = variants.read_manifest(built)["variants"]
    for name in variants.VARIANTS:
        with zipfile.ZipFile(built / variants.variant_filename(name)) as z:
            assert [(i.filename, i.date_time) for i in z.infolist()] == official
            assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        # reproducible: the same bytes as the build whose accuracy gate is committed
        assert gate.recorded_gate(manifest[name]["sha256"]) is not None, name


@needs_build_tools
@pytest.mark.model
def test_variants_load_and_find_the_astronaut(built: Path, astronaut: np.ndarray) -> None:
    ref = _observe(built / assets.MODEL.filename, astronaut)[0]
    iod = np.linalg.norm((ref.landmarks[33, :2] - ref.landmarks[263, :2]) * ref.image_size)
    for name in variants.VARIANTS:
        faces = _observe(built / variants.variant_filename(name), astronaut)
        assert len(faces) == 1, name
        dev = np.linalg.norm((faces[0].landmarks[:, :2] - ref.landmarks[:, :2]) * ref.image_size, axis=1).mean()
        if name == "float32":  # folding float16 constants is exact
            assert np.array_equal(faces[0].landmarks, ref.landmarks)
        else:
            assert dev / iod < 0.05, (name, dev / iod)


@needs_build_tools
@pytest.mark.model
def test_only_gated_variants_are_used(built: Path) -> None:
    usable = model_tools.usable(built)
    assert "float32" in usable and "int8-weights" in usable
    for name, entry in variants.read_manifest(built)["variants"].items():
        assert (name in usable) == bool(entry["gate"].get("passed"))
        expected = built / (variants.variant_filename(name) if name in usable else assets.MODEL.filename)
        assert variants.resolve(name, built) == expected
    assert variants.describe(built / variants.variant_filename("float32")) == "variant float32"
    assert variants.describe(built / assets.MODEL.filename) == "official float16"


@needs_build_tools
@pytest.mark.model
def test_gate_rejects_a_broken_variant(built: Path, tmp_path: Path, astronaut: np.ndarray) -> None:
    """Static int8 built from deliberately wrong calibration ranges (every activation squeezed
    into [0, 0.05]) fails the gate; the intact float32 variant passes on the same faces."""
    calibration = model_tools.REPO / "core" / "offline" / "model_build" / "calibration-landmarks.tsv"
    lines = [ln if ln.startswith("#") else "\t".join([ln.split("\t")[0], "0.0", "0.05"])
             for ln in calibration.read_text().splitlines()]
    broken_ranges = tmp_path / "broken.tsv"
    broken_ranges.write_text("\n".join(lines) + "\n")
    import subprocess

    code = ("import sys; from pathlib import Path; from core.offline.model_build import build as b; "
            "b.build_variant(Path(sys.argv[1]), 'int8', Path(sys.argv[2]), Path(sys.argv[3]))")
    broken = tmp_path / "broken.task"
    subprocess.run([_build_python(), "-c", code, str(built / assets.MODEL.filename), str(broken), str(broken_ranges)],
                   check=True, cwd=model_tools.REPO, capture_output=True)
    h, w = astronaut.shape[:2]
    images = [astronaut, astronaut[:, ::-1].copy(), astronaut[h // 8:, w // 8:].copy(), astronaut[: 7 * h // 8].copy()]
    labels = [True, True, False, False]
    official = [(_observe(built / assets.MODEL.filename, im) or [None])[0] for im in images]
    for name, path, passes in (("float32", built / variants.variant_filename("float32"), True),
                               ("broken", broken, False)):
        obs = [(_observe(path, im) or [None])[0] for im in images]
        result = gate.compare(name, official, obs, labels, "astronaut x4")
        assert result.passed is passes, result.summary()


# ---- no build tools needed --------------------------------------------------------------------

def _fake_cache(tmp_path: Path, model_cache: Path, passed: bool, content: bytes | None = None) -> Path:
    """A cache whose manifest vouches for an "int8" file: by default a real bundle (the official
    model's bytes under the variant's name), else `content`."""
    shutil.copy(model_cache / assets.MODEL.filename, tmp_path / assets.MODEL.filename)
    variant = tmp_path / variants.variant_filename("int8")
    variant.write_bytes(content if content is not None else (model_cache / assets.MODEL.filename).read_bytes())
    model_tools.write_manifest(tmp_path, {"int8": {"sha256": assets.sha256_of(variant), "size": variant.stat().st_size,
                                                   "gate": {"passed": passed, "failures": [] if passed else ["x"]}}})
    return variant


@pytest.mark.model
def test_a_failed_or_altered_variant_falls_back_to_the_official_model(tmp_path: Path, model_cache: Path) -> None:
    official = tmp_path / assets.MODEL.filename
    variant = _fake_cache(tmp_path, model_cache, passed=False)
    assert variants.resolve("int8", tmp_path) == official
    assert "int8" not in model_tools.usable(tmp_path)
    variant = _fake_cache(tmp_path, model_cache, passed=True)
    assert variants.resolve("int8", tmp_path) == variant
    variant.write_bytes(b"altered")
    assert variants.resolve("int8", tmp_path) == official
    assert variants.resolve("official", tmp_path) == official


@pytest.mark.model
@pytest.mark.parametrize("manifest", ["[]", "null", '"x"', '{"variants": []}', '{"variants": {"int8": 3}}',
                                      '{"variants": {"int8": {"gate": 1, "sha256": "x", "size": 1}}}'])
def test_a_manifest_of_the_wrong_shape_means_no_variants(tmp_path: Path, model_cache: Path, manifest: str) -> None:
    official = tmp_path / assets.MODEL.filename
    _fake_cache(tmp_path, model_cache, passed=True)
    data = manifest.replace('{"variants"', '{"source_sha256": "%s", "variants"' % assets.MODEL.sha256)
    variants.manifest_path(tmp_path).write_text(data)
    assert variants.resolve("int8", tmp_path) == official
    assert model_tools.usable(tmp_path) == {"official": official}


@pytest.mark.model
def test_a_forged_variant_that_its_manifest_vouches_for_falls_back(tmp_path: Path, model_cache: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    official = tmp_path / assets.MODEL.filename
    _fake_cache(tmp_path, model_cache, passed=True, content=b"not really a model")
    with caplog.at_level("WARNING"):
        assert variants.resolve("int8", tmp_path) == official
    assert "broken" in caplog.text and "official model" in caplog.text
    assert "int8" not in model_tools.usable(tmp_path)



def test_choose_needs_a_real_speed_gain_to_leave_the_exact_model() -> None:
    assert model_tools.choose({"official": 10.0, "float32": 9.8, "int8-weights": 9.7}) == "official"
    assert model_tools.choose({"official": 10.0, "float32": 9.8, "int8": 8.0}) == "int8"
    assert model_tools.choose({"official": 10.0, "int8-weights": 9.0, "int8": 8.9}) == "int8-weights"


def test_gate_limits_fail_on_nan_and_on_each_figure() -> None:
    base = dict(variant="v", photos=10, faces=10, faces_lost=0, faces_gained=0, landmark_dev_mean_pct=0.5,
                landmark_dev_p95_pct=1.0, score_change_mean=0.5, score_change_p95=1.0, eye_change_mean=0.5,
                auc_official=0.99, auc_variant=0.99, data="t")
    assert gate.GateResult(**base).check().passed
    for key, bad in (("faces_lost", 1), ("landmark_dev_mean_pct", float("nan")), ("auc_variant", 0.97),
                     ("score_change_mean", 5.0)):
        assert not gate.GateResult(**{**base, key: bad}).check().passed, key


def test_the_runtime_never_imports_the_build_tools() -> None:
    """Nor any offline tool: the mirror starts without loading training, evaluation or the gate."""
    import subprocess
    import sys

    code = ("import json, sys, kiosk.cli, kiosk.app, core.variants, core.landmarker; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ai_edge_quantizer', 'ai_edge_litert') "
            "or m.startswith('core.offline')]; print(json.dumps(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=model_tools.REPO, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_gate_record_goes_where_it_is_asked_and_the_shipped_one_is_only_read(tmp_path: Path) -> None:
    shipped = gate.GATE_RECORD.read_bytes()
    record = tmp_path / "gates.json"
    result = {"variant": "int8", "passed": True, "landmark_dev_mean_pct": 1.0}
    gate.write_record(record, {"ab" * 32: result})
    gate.write_record(record, {"cd" * 32: {**result, "passed": False}})
    assert gate.recorded_gate("ab" * 32, record) == result
    assert gate.recorded_gate("cd" * 32, record)["passed"] is False
    assert gate.recorded_gate("ab" * 32) is None, "the shipped record knows no such build"
    assert gate.GATE_RECORD.read_bytes() == shipped


def test_cpu_lists_are_parsed_and_bad_ones_named() -> None:
    from core.cpus import parse_cpus, pin_cpus
    from core.errors import ConfigError

    assert parse_cpus("0") == {0} and parse_cpus("0-2") == {0, 1, 2} and parse_cpus("0,2-3") == {0, 2, 3}
    for bad in ("", "a", "1-0", "0-", "-1"):
        with pytest.raises(ConfigError, match="CPU list"):
            parse_cpus(bad)
    with pytest.raises(ConfigError, match="offers CPUs"):
        pin_cpus("4096")


@pytest.mark.model
@pytest.mark.parametrize("backend", ["litert", "mediapipe"])
def test_the_gate_runs_on_the_backend_the_device_runs(model_path: Path, astronaut: np.ndarray, tmp_path: Path,
                                                      backend: str) -> None:
    """The official bundle gated against itself on either backend: a pass with no deviation, and
    the result names the runtime it was measured on."""
    import cv2

    h, w = astronaut.shape[:2]
    crops = {"a.png": astronaut, "b.png": astronaut[:, ::-1], "c.png": astronaut[h // 8:, w // 8:],
             "d.png": astronaut[: 7 * h // 8]}
    rows = ["path,label"]
    for i, (name, rgb) in enumerate(crops.items()):
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        rows += [f"{name},{'smile' if i < 2 else 'neutral'}", f"{name},{'smile' if i < 2 else 'neutral'}"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    result = gate.gate_variants(model_path, {"same": model_path}, tmp_path, None, backend=backend)["same"]
    assert result.backend == backend and result.faces == 4 and result.faces_lost == 0
    assert result.landmark_dev_mean_pct == 0.0 and result.passed, result.summary()
