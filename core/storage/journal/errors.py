"""The journal's error, in a leaf module so every part of the journal can raise it."""

from __future__ import annotations

from core.errors import GenesysTrayError


class JournalError(GenesysTrayError):
    """The journal cannot do what was asked (closed, entries not saved, export failed)."""
