"""A cache of expensive per-clip results, keyed by what they are made of.

A result's key hashes the bytes of the clip's video and label files, the source of the code
that computes it and any settings: a changed clip, a changed tracker or a changed setting
gives a new key, never a stale result. Files live under `.cache/<kind>/`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import numpy as np

from tools.dataset import REPO_ROOT

CACHE_ROOT = REPO_ROOT / ".cache"
# Libraries whose version can change a cached result (decoding, poses, image maths).
LIBRARIES = ("av", "numpy", "opencv-contrib-python", "mediapipe", "ai-edge-litert", "scipy")

Arrays = dict[str, np.ndarray]


@cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (remembered while the file's size and time are unchanged)."""
    stat = path.stat()
    return _file_digest(path.resolve(), stat.st_size, stat.st_mtime_ns)


def files_digest(paths: Iterable[Path]) -> str:
    """One digest for several files: their names and contents, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + file_digest(path).encode() + b"\0")
    return digest.hexdigest()


def module_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"no source file for module {module!r}")
    return Path(spec.origin)


def code_digest(modules: Iterable[str]) -> str:
    """Digest of the source of the named modules (and of any model files they load)."""
    return files_digest(module_file(m) for m in sorted(modules))


def key_of(*parts: object) -> str:
    """A short stable key for JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cached_arrays(kind: str, name: str, key: str, compute: Callable[[], Arrays]) -> Arrays:
    """The arrays stored under `kind/name_key.npz`, computed and stored when missing."""
    path = CACHE_ROOT / kind / f"{name}_{key}.npz"
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    arrays = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return arrays


def library_versions(packages: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries results depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out
