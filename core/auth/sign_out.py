"""What a sign-out really did, in words for the person.

Sign-out must never claim more than it did (issue 14): the settings dialog shows
:meth:`SignOutResult.words`, so a revocation that failed or a keyring entry that stayed behind is
said plainly instead of being hidden behind "revoked and forgotten".
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_REVOKED = (
    "The sign-in could not be revoked at Genesys Cloud (it could not be reached, or it refused), "
    "so it stays valid there until it expires; an administrator can revoke it sooner."
)


@dataclass(frozen=True, slots=True)
class SignOutResult:
    """The outcome of one sign-out.

    Attributes:
        revoked: Genesys Cloud confirmed that the stored tokens no longer work (or they had
            expired already, or there were none).
        forgotten: the credential-store entries that were deleted (names, never values).
        kept: the entries that could not be deleted.
        problems: what failed, in plain words.
    """

    revoked: bool
    forgotten: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Revoked at Genesys Cloud and every entry deleted here."""
        return self.revoked and not self.kept and not self.problems

    def words(self) -> str:
        """One short paragraph for the person: only what was done, and what was not."""
        if self.complete:
            return (
                "Signed out. The sign-in is revoked at Genesys Cloud and forgotten on this "
                "computer."
            )
        parts = ["Signed out, but not completely."]
        if self.kept:
            parts.append(
                "These saved entries could not be deleted from the keyring: "
                f"{', '.join(self.kept)}. Delete them with your keyring tool."
            )
        else:
            parts.append("The sign-in is forgotten on this computer.")
        parts.extend(self.problems)
        return " ".join(parts)
