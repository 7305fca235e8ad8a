"""Folders that hold the user's data (logs, journal, settings) are the user's alone.

``mkdir(mode=0o700)`` only applies to a folder it creates: one that already exists (made 0755
by an older version, a tool or by hand) keeps its mode, and with it other local users' access
to who was on lunch when. :func:`private_folder` also tightens such a folder, but only one that
is ours: owned by us, not a symlink, and named for the app, so a log file put in the home
folder or in /tmp never changes those folders' modes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

APP_DIR_NAME = "genesys-tray"


def private_folder(folder: Path, *, ours: bool | None = None) -> bool:
    """Create ``folder`` (and its parents) owner-only, or tighten an existing one to 0700.

    Args:
        folder: the folder to make or check.
        ours: whether the folder belongs to the app alone, so its mode may be changed. By
            default, when one of its path parts is the app's folder name.

    Returns:
        True when ``folder`` is now a real directory (not a symlink) of ours that nobody else
        can enter; False when it is someone else's, a symlink, or shared and left as it was.

    Raises:
        OSError: the folder could not be created.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sys.platform == "win32":  # the profile folder's ACL already keeps other users out
        return True
    try:  # by descriptor, so what is checked is what is changed, never a symlink's target
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        logger.info("the folder %s is a symlink or not a folder; left as it is", folder)
        return False
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            logger.warning("the folder %s belongs to another user; not used as private", folder)
            return False
        if stat.S_IMODE(info.st_mode) & 0o077 == 0:
            return True
        if not (APP_DIR_NAME in folder.parts if ours is None else ours):
            return False
        os.fchmod(fd, 0o700)
        logger.info("made the folder %s readable by its owner only", folder)
        return True
    finally:
        os.close(fd)


@contextmanager
def atomic_private_file(target: Path) -> Iterator[IO[bytes]]:
    """A file that becomes ``target`` only once written whole: private, atomic, never partial.

    The bytes go to a ``0600`` temporary file in the same folder, are synced, and replace
    ``target`` in one rename (a link at ``target`` is replaced, never written through). On any
    error the temporary file is removed and an older ``target`` stays as it was.
    """
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
