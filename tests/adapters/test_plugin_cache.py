"""Reader plugins come from a cache keyed by the installed distributions, never a stale one."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

import pytest

from nndoctor.adapters.readers import _plugins

GROUP = "nndoctor.readers"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path (first) and a private cache."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NNDOCTOR_NO_CACHE", raising=False)
    return folder


def _install(site: Path, name: str, entry: str) -> Path:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entry}\n")
    return info


def _names() -> list[str]:
    return [p.name for p in _plugins.entry_points(GROUP)]


def _scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    scan = _plugins._scan
    monkeypatch.setattr(_plugins, "_scan", lambda group: calls.append(group) or scan(group))
    return calls


def test_cached_equals_importlib_metadata(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(site, "nnd_plugin_a", "alpha = nnd_plugin_a:reader")
    expected = [(ep.name, ep.value) for ep in metadata.entry_points(group=GROUP)]
    first = [(p.name, p.value) for p in _plugins.entry_points(GROUP)]
    calls = _scans(monkeypatch)
    again = [(p.name, p.value) for p in _plugins.entry_points(GROUP)]
    assert first == again == expected and ("alpha", "nnd_plugin_a:reader") in again
    assert calls == []  # the second start read the cache


def test_installing_removing_or_editing_rescans(site: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert "beta" not in _names()
    info = _install(site, "nnd_plugin_b", "beta = nnd_plugin_b:reader")
    assert "beta" in _names()  # a new distribution
    points = info / "entry_points.txt"
    st = points.stat()
    points.write_text(f"[{GROUP}]\nzeta = nnd_plugin_b:reader\n")  # same size, same mtime
    os.utime(points, ns=(st.st_atime_ns, st.st_mtime_ns))
    names = _names()
    assert "zeta" in names and "beta" not in names  # edited in place
    (info / "entry_points.txt").unlink()
    (info / "METADATA").unlink()
    info.rmdir()
    assert "zeta" not in _names()  # removed


def test_a_corrupt_cache_or_no_cache_asks_importlib(site: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _install(site, "nnd_plugin_c", "delta = nnd_plugin_c:reader")
    assert "delta" in _names()
    for f in (Path(os.environ["XDG_CACHE_HOME"]) / "nndoctor" / "plugins").glob("*.json"):
        f.write_text("{not json")
    assert "delta" in _names()
    monkeypatch.setenv("NNDOCTOR_NO_CACHE", "1")
    calls = _scans(monkeypatch)
    assert "delta" in _names() and calls == [GROUP]


def test_a_plugin_loads_through_importlib(site: Path) -> None:
    (site / "nnd_plugin_d.py").write_text("reader = 'the reader object'\n")
    _install(site, "nnd_plugin_d", "epsilon = nnd_plugin_d:reader")
    (plugin,) = [p for p in _plugins.entry_points(GROUP) if p.name == "epsilon"]
    try:
        assert plugin.load() == "the reader object"
    finally:
        sys.modules.pop("nnd_plugin_d", None)
