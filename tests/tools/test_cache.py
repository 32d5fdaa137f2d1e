"""Cached results are keyed by what they are made of: content, code and settings."""

from __future__ import annotations

import numpy as np

from tools import cache


def test_a_file_digest_follows_its_content(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("Frame,Ball\n0,1\n")
    first = cache.files_digest([path])
    path.write_text("Frame,Ball\n0,0\n")
    assert cache.files_digest([path]) != first
    path.write_text("Frame,Ball\n0,1\n")
    assert cache.files_digest([path]) == first
    # The folder does not count, the name does.
    other = tmp_path / "sub"
    other.mkdir()
    (other / "labels.csv").write_text("Frame,Ball\n0,1\n")
    assert cache.files_digest([other / "labels.csv"]) == first


def test_code_digest_changes_with_the_module_source():
    assert cache.code_digest(["tools.cache"]) != cache.code_digest(["tools.dataset"])
    assert cache.code_digest(["tools.cache", "tools.dataset"]) == cache.code_digest(
        ["tools.dataset", "tools.cache"]
    )


def test_cached_arrays_are_computed_once_per_key(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_ROOT", tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    key = cache.key_of("clip", 15.0)
    assert cache.cached_arrays("kind", "clip", key, compute)["x"].tolist() == [0, 1, 2]
    assert cache.cached_arrays("kind", "clip", key, compute)["x"].tolist() == [0, 1, 2]
    assert len(calls) == 1
    cache.cached_arrays("kind", "clip", cache.key_of("clip", 10.0), compute)
    assert len(calls) == 2
