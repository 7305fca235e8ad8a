"""Typed D-Bus integers for PySide6, which cannot put a ``uint32`` or ``byte`` on the wire.

PySide6 and D-Bus integer types: PySide6 (checked on 6.11) cannot put a D-Bus ``uint32`` or
``byte`` on the wire from Python. A Python ``int`` becomes a QVariant ``int`` (D-Bus ``i``) or
``qlonglong`` (``x``), and every overload of ``QDBusArgument << int`` resolves to the ``ushort``
one (``q``, even for ``True`` and ``1.5``). ``Notify`` needs ``u`` for ``replaces_id``,
``CloseNotification`` needs ``u`` and the spec's ``urgency`` hint is a byte, and servers reject a
wrong signature. :func:`dbus_uint32` and :func:`dbus_byte` therefore call QtDBus's own
``QDBusArgument::operator<<(uint)`` / ``(uchar)`` through ctypes (stable exported symbols of the
Qt 6 ABI) and check the result's signature; if that is impossible the D-Bus backend reports
itself unavailable and the chain falls back, saying why.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Sequence
from typing import Final

from PySide6 import QtDBus
from PySide6.QtCore import QMetaType
from PySide6.QtDBus import QDBusArgument
from shiboken6 import Shiboken


class DBusTypingError(RuntimeError):
    """This Qt binding cannot build a typed D-Bus argument (see the module docstring)."""


# Itanium-mangled QDBusArgument::operator<<(uint) and operator<<(uchar), with their C types.
_WRITER_SYMBOLS: Final = {
    "u": ("_ZN13QDBusArgumentlsEj", ctypes.c_uint32),
    "y": ("_ZN13QDBusArgumentlsEh", ctypes.c_uint8),
}


@functools.cache
def _argument_writers() -> dict[str, Callable[[int, int], object]]:
    """QtDBus's typed ``QDBusArgument`` writers for ``u`` and ``y``, looked up once.

    dlsym on the handle of PySide6's QtDBus module searches its dependencies too, so this
    finds the libQt6DBus the process already uses (never a second copy).

    Raises:
        DBusTypingError: when the symbols are not there (another ABI, another platform).
    """
    writers: dict[str, Callable[[int, int], object]] = {}
    try:
        lib = ctypes.CDLL(QtDBus.__file__)
        for signature, (symbol, c_type) in _WRITER_SYMBOLS.items():
            writer = lib[symbol]
            writer.argtypes = [ctypes.c_void_p, c_type]
            writer.restype = ctypes.c_void_p  # returns *this
            writers[signature] = writer
    except (OSError, AttributeError, TypeError) as exc:
        raise DBusTypingError(f"cannot find QDBusArgument's typed writers: {exc}") from exc
    return writers


def _typed_argument(signature: str, value: int) -> QDBusArgument:
    writer = _argument_writers()[signature]
    argument = QDBusArgument()
    writer(Shiboken.getCppPointer(argument)[0], value)
    if argument.currentSignature() != signature:  # never send something the server will reject
        raise DBusTypingError(
            f"wrote a D-Bus {signature!r} but got {argument.currentSignature()!r}"
        )
    return argument


def dbus_uint32(value: int) -> QDBusArgument:
    """A D-Bus ``u`` argument (a plain Python int would go out as ``i``).

    Raises:
        DBusTypingError: when this Qt binding cannot write one.
        ValueError: for a value outside 0..2**32-1.
    """
    if not 0 <= value < 2**32:
        raise ValueError(f"{value} does not fit a D-Bus uint32")
    return _typed_argument("u", value)


def dbus_byte(value: int) -> QDBusArgument:
    """A D-Bus ``y`` argument (e.g. the ``urgency`` hint, wrapped in a variant by a dict).

    Raises:
        DBusTypingError: when this Qt binding cannot write one.
        ValueError: for a value outside 0..255.
    """
    if not 0 <= value < 256:
        raise ValueError(f"{value} does not fit a D-Bus byte")
    return _typed_argument("y", value)


def dbus_string_list(items: Sequence[str]) -> object:
    """A D-Bus ``as``, also when empty (an empty Python list would go out as ``av``)."""
    if items:
        return list(items)
    argument = QDBusArgument()
    argument.beginArray(QMetaType(QMetaType.Type.QString))
    argument.endArray()
    return argument
