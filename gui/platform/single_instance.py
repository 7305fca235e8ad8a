"""One monitor per user: a second launch hands over to the running one and exits.

The first instance listens on a local socket whose name is private to the user; a later launch
connects to it, sends ``activate`` and is told to exit (``claim`` returns False), and the running
instance raises its window (:attr:`SingleInstance.activation_requested`).

Where the socket lives on Unix: ``$XDG_RUNTIME_DIR`` (mode 0700, per user), else a 0700 folder of
ours under the temp dir. Three traps shaped this:

* The temp dir is shared: another local user can create ``<tmp>/<name>-<uid>`` first (a
  symlink, or a folder of theirs) and listen there, so a launch would hand over to them and
  exit. The folder is checked without following links (owner and mode; a loose one of ours is
  tightened to 0700); when it is not ours, this launch uses a fresh private folder instead. It
  then runs unguarded (a second launch cannot find it), which beats not starting at all.

* ``QLocalServer.UserAccessOption`` must not be used for this on Unix: Qt then binds in a temp
  folder and *renames* the socket into place, which silently replaces a live server's socket
  (listen succeeds twice; checked with Qt 6.12). The private folder gives the same protection.
* A crash leaves the socket file behind and ``listen`` fails with AddressInUseError. The name is
  only treated as stale when nobody answers on it, and is asked once more right before removal,
  so two launches racing each other cannot both end up running.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QDir, QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from core.domain.files import private_folder

logger = logging.getLogger(__name__)

ACTIVATE = b"activate\n"
CONNECT_TIMEOUT_MS = 500
WRITE_TIMEOUT_MS = 1000
MAX_MESSAGE_BYTES = 256  # a peer that sends more is not one of ours
_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class SingleInstance(QObject):
    """Claims a per-user name so that only one instance of the app runs.

    Signals:
        activation_requested(): another launch asked this (running) instance to come forward.
    """

    activation_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        """Create an unclaimed guard."""
        super().__init__(parent)
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytes] = {}
        self._throwaway: Path | None = None  # a fresh folder of this launch, removed on release

    @staticmethod
    def server_name(name: str) -> str:
        """The per-user local socket path (Unix) or pipe name (Windows) for ``name``.

        When the shared temp folder is not ours, each call makes a fresh private folder (see
        the module docstring); :meth:`claim` removes its own on :meth:`release`.

        Raises:
            ValueError: when ``name`` is not 1-64 letters, digits, ".", "_" or "-".
        """
        return _server_name(name)[0]

    @property
    def claimed(self) -> bool:
        """Whether this object holds the name (and so is the instance that runs)."""
        return self._server is not None and self._server.isListening()

    def full_server_name(self) -> str:
        """The socket path or pipe name listened on ("" when not claimed)."""
        return self._server.fullServerName() if self._server is not None else ""

    def claim(self, name: str) -> bool:
        """Become the running instance for ``name``, or wake up the one that already is.

        Returns:
            True when this process should run (the name is ours, or it cannot be guarded, which
            is logged); False when another instance answered and was asked to activate, so this
            launch should exit.
        """
        if self._server is not None:
            return True
        try:
            full, self._throwaway = _server_name(name)  # a throwaway folder goes on release
        except OSError as exc:  # not even a fresh private folder could be made
            logger.warning("single instance: no private folder (%s); running unguarded", exc)
            return True
        if _send_activate(full):
            return False
        server = QLocalServer(self)
        if sys.platform == "win32":  # a pipe's ACL; on Unix the private folder does this
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(full):
            if server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
                logger.warning(
                    "single instance: cannot listen on %s (%s); running unguarded",
                    full,
                    server.errorString(),
                )
                server.deleteLater()
                return True
            # In use: another launch may have started just now. Only a name nobody answers on
            # is a crashed instance's leftover.
            if _send_activate(full):
                server.deleteLater()
                return False
            logger.info("single instance: removing the stale socket %s left by a crash", full)
            QLocalServer.removeServer(full)
            if not server.listen(full):
                logger.warning(
                    "single instance: cannot listen on %s even after removing it (%s); unguarded",
                    full,
                    server.errorString(),
                )
                server.deleteLater()
                return True
        server.newConnection.connect(self._on_server_new_connection)
        self._server = server
        return True

    def release(self) -> None:
        """Give the name up (the socket file is removed); safe to call twice."""
        server, self._server = self._server, None
        throwaway, self._throwaway = self._throwaway, None
        if server is not None:
            server.close()
            server.deleteLater()
            for peer in list(self._buffers):
                peer.abort()
                peer.deleteLater()
            self._buffers.clear()
        if throwaway is not None:
            with contextlib.suppress(OSError):
                throwaway.rmdir()

    # ------------------------------------------------------------------------------- slots
    def _on_server_new_connection(self) -> None:
        server = self._server
        while server is not None and server.hasPendingConnections():
            peer = server.nextPendingConnection()
            self._buffers[peer] = b""
            peer.readyRead.connect(self._on_peer_ready_read)
            peer.disconnected.connect(self._on_peer_disconnected)
            if peer.bytesAvailable():
                self._read(peer)

    def _on_peer_ready_read(self) -> None:
        peer = self.sender()
        if isinstance(peer, QLocalSocket):
            self._read(peer)

    def _on_peer_disconnected(self) -> None:
        peer = self.sender()
        if isinstance(peer, QLocalSocket):
            self._read(peer)
            self._drop(peer)

    def _read(self, peer: QLocalSocket) -> None:
        if peer not in self._buffers:
            return
        data = self._buffers[peer] + bytes(peer.readAll().data())
        if len(data) > MAX_MESSAGE_BYTES:
            logger.warning("single instance: dropping a peer that sent %d bytes", len(data))
            self._drop(peer)
            return
        *lines, rest = data.split(b"\n")
        self._buffers[peer] = rest
        for line in lines:
            if line + b"\n" == ACTIVATE:
                self.activation_requested.emit()
            else:
                logger.warning("single instance: unknown message %r", line[:32])

    def _drop(self, peer: QLocalSocket) -> None:
        if self._buffers.pop(peer, None) is not None:
            peer.abort()
            peer.deleteLater()


def _server_name(name: str) -> tuple[str, Path | None]:
    """The socket path or pipe name for ``name``, and the throwaway folder it lies in (if any).

    Raises:
        ValueError: an invalid name.
        OSError: the shared folder is not ours and no fresh one could be made.
    """
    if not _NAME.match(name):
        raise ValueError(f"invalid instance name {name!r}")
    if sys.platform == "win32":
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "user"
        return f"{name}-{re.sub(r'[^A-Za-z0-9._-]', '_', user)}", None
    uid = os.getuid()
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and _private_dir(Path(runtime), uid):
        path = Path(runtime) / f"{name}.sock"
        if len(os.fsencode(path)) <= _UNIX_PATH_MAX:
            return str(path), None
    temp = Path(QDir.tempPath())
    folder = temp / f"{name}-{uid}"
    try:
        ours = private_folder(folder, ours=True)
    except OSError:  # e.g. a file of someone else's at that path
        ours = False
    if ours:
        return str(folder / "instance.sock"), None
    fresh = Path(tempfile.mkdtemp(prefix=f"{name}-{uid}-", dir=temp))  # 0700, new, ours
    logger.warning(
        "single instance: %s is not a private folder of this user (someone else may have made "
        "it); running from %s, so a second launch will not find this one",
        folder,
        fresh,
    )
    return str(fresh / "instance.sock"), fresh


def _send_activate(full_name: str) -> bool:
    """Tell the instance listening on ``full_name`` to activate; False if nobody answers."""
    socket = QLocalSocket()
    socket.connectToServer(full_name)
    try:
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(ACTIVATE)
        socket.waitForBytesWritten(WRITE_TIMEOUT_MS)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(WRITE_TIMEOUT_MS)
        return True
    finally:
        socket.abort()


def _private_dir(folder: Path, uid: int) -> bool:
    """Whether ``folder`` is a real directory owned by ``uid`` that nobody else can enter."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == uid
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )
