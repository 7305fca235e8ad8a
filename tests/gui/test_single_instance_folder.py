"""Another local user cannot keep the app from starting through the shared temp folder.

Without ``XDG_RUNTIME_DIR`` the single-instance socket lives in ``<tmp>/<name>-<uid>``. Anyone
can create that path first (a symlink, or a folder of their own) and listen where we would
look, so a launch would "hand over" to them and exit. These tests build such traps for real.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalServer
from PySide6.QtWidgets import QApplication

from gui.platform.single_instance import SingleInstance

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket folders")


@pytest.fixture
def tmp_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short temp folder of the test's own (TMPDIR), and no XDG_RUNTIME_DIR."""
    base = Path(tempfile.mkdtemp(prefix="gt-tmp-"))
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def name() -> str:
    return f"gt-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def made(qapp: QApplication) -> Iterator[list[SingleInstance | QLocalServer]]:
    """Guards and squatting servers made by a test, all closed afterwards."""
    objects: list[SingleInstance | QLocalServer] = []
    yield objects
    for obj in objects:
        if isinstance(obj, SingleInstance):
            obj.release()
        else:
            obj.close()
        obj.deleteLater()


def _squat(path: Path, made: list[SingleInstance | QLocalServer]) -> QLocalServer:
    """Another user's server, listening where a launch might look."""
    server = QLocalServer()
    made.append(server)
    assert server.listen(str(path)), server.errorString()
    return server


def _assert_private(folder: Path) -> None:
    info = folder.lstat()
    assert stat.S_ISDIR(info.st_mode)
    assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700


@pytest.mark.parametrize("trap", ["symlink", "foreign folder"])
def test_a_planted_folder_cannot_stop_the_app(
    tmp_base: Path, name: str, made: list[SingleInstance | QLocalServer], trap: str
) -> None:
    """The launch runs in a fresh private folder instead of handing over to the squatter."""
    planted = tmp_base / f"{name}-{os.getuid()}"
    theirs = tmp_base / "theirs"
    theirs.mkdir(mode=0o777)
    theirs.chmod(0o777)
    if trap == "symlink":
        planted.symlink_to(theirs)
    else:
        if os.getuid() != 0:
            pytest.skip("only root can hand a folder to another user")
        planted.mkdir(mode=0o777)
        planted.chmod(0o777)
        os.chown(planted, 65534, 65534)
    # Listening everywhere a launch used to look: the folder's socket and the bare fallback.
    _squat(theirs / "instance.sock", made)
    _squat(tmp_base / f"{name}-{os.getuid()}.sock", made)

    guard = SingleInstance()
    made.append(guard)
    assert guard.claim(name) is True
    socket_path = Path(guard.full_server_name())
    assert socket_path.parent != planted and theirs not in socket_path.parents
    assert socket_path.parent.parent == tmp_base
    _assert_private(socket_path.parent)

    guard.release()
    assert not socket_path.parent.exists()  # the throwaway folder goes with the socket


def test_a_loose_folder_of_our_own_is_tightened_and_used(tmp_base: Path, name: str) -> None:
    """A 0755 folder we own (made by hand, or by an older version) becomes 0700 and is kept."""
    folder = tmp_base / f"{name}-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o755)
    assert SingleInstance.server_name(name) == str(folder / "instance.sock")
    _assert_private(folder)


def test_two_launches_still_meet_in_the_shared_temp_folder(
    qtbot: object, tmp_base: Path, name: str, made: list[SingleInstance | QLocalServer]
) -> None:
    """No trap: the second launch finds the first one (the folder is stable, not fresh)."""
    first, second = SingleInstance(), SingleInstance()
    made += [first, second]
    assert first.claim(name) is True
    assert second.claim(name) is False
    _assert_private(Path(first.full_server_name()).parent)
