"""The "What to ask your admin for" dialog: the OAuth client to create and the permissions.

Opened from the welcome dialog (a person about to connect usually has no OAuth client yet).
Its words come from :func:`gui.dialogs.welcome_words.admin_request`, the README's source too;
"Copy" puts them on the clipboard as plain text, for a mail or a ticket to the admin.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui.dialogs.welcome_words import ADMIN_TITLE, admin_request_html, admin_request_text

logger = logging.getLogger(__name__)

COPY_WORDS = "Copy for my admin"


class AdminChecklistDialog(QDialog):
    """What to ask your admin for, readable and copyable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adminChecklist")
        self.setWindowTitle(ADMIN_TITLE)
        self.resize(620, 560)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Genesys Tray signs in to your org through an OAuth client your Genesys Cloud admin "
            "creates once. Hand them this:"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setHtml(admin_request_html())
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton(COPY_WORDS)
        self.copy_button.setAutoDefault(False)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def plain_text(self) -> str:
        """What "Copy" puts on the clipboard."""
        return admin_request_text()

    def _on_copy_button_clicked(self) -> None:
        clipboard = QApplication.clipboard()
        clipboard.setText(self.plain_text())
        self.copy_button.setText("Copied")
        logger.info("admin checklist copied")
