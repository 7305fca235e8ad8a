"""Issue 14: the diagnostics zip is private (0600), written atomically, never through a symlink."""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.app.diagnostics import DiagnosticsError, write_diagnostics

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes and symlinks")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common desktop umask: new files would be world-readable (0644)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@posix_only
def test_the_bundle_is_readable_by_its_owner_only(tmp_path: Path, loose_umask: None) -> None:
    target = write_diagnostics(tmp_path / "d.zip", log_files=[], timeline=[], settings={})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with zipfile.ZipFile(target) as bundle:
        assert "about.json" in bundle.namelist()


@posix_only
def test_replacing_a_loose_old_bundle_leaves_a_private_one(
    tmp_path: Path, loose_umask: None
) -> None:
    target = tmp_path / "d.zip"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_diagnostics(target, log_files=[], timeline=[], settings={})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert zipfile.is_zipfile(target)


def test_a_failure_half_way_leaves_the_old_bundle_whole_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "d.zip"
    write_diagnostics(target, log_files=[], timeline=[{"kind": "note"}], settings={"v": 1})
    before = target.read_bytes()
    log = tmp_path / "app.log"
    log.write_text("INFO fine\n" * 1000)

    with pytest.raises(TypeError):  # a timeline entry that cannot be written, after the logs
        write_diagnostics(
            target, log_files=[log], timeline=[{"kind": "note", "x": object()}], settings={}
        )
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"d.zip", "app.log"}) == []


def test_an_unwritable_folder_is_a_diagnostics_error_and_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DiagnosticsError, match="could not be saved"):
        write_diagnostics(blocker / "d.zip", log_files=[], timeline=[], settings={})
    assert _leftovers(tmp_path, {"file"}) == []


def test_a_folder_in_the_way_is_a_diagnostics_error(tmp_path: Path) -> None:
    (tmp_path / "d.zip").mkdir()
    with pytest.raises(DiagnosticsError, match="could not be saved"):
        write_diagnostics(tmp_path / "d.zip", log_files=[], timeline=[], settings={})
    assert _leftovers(tmp_path, {"d.zip"}) == []


@posix_only
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_symlink_at_the_target_is_refused_and_its_file_untouched(
    tmp_path: Path, dangling: bool
) -> None:
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    if not dangling:
        victim.write_text("precious")
    link = tmp_path / "out" / "d.zip"
    link.parent.mkdir()
    link.symlink_to(victim)

    with pytest.raises(DiagnosticsError, match="link") as refused:
        write_diagnostics(link, log_files=[], timeline=[], settings={})
    assert "could not be saved" in str(refused.value)
    assert link.is_symlink()
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == "precious"
    assert _leftovers(link.parent, {"d.zip"}) == []
