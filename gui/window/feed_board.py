"""The Feed board: search, the kinds shown, pause, the journal button and the feed table.

Kept apart from the main window so the board can grow without the window growing with it.
Which kinds the feed shows is a setting of its own (``AppConfig.feed_kinds``, chosen in
"Filters & alerts…", which the Kinds button opens): by default it leaves out the app's own
plumbing (disconnections re-synced, topic budgets). The routine Idle ↔ Interacting moves, which
flooded the feed, are left out too until "Show Idle ↔ Interacting" is ticked (remembered in
QSettings "feed/routine"). The journal keeps every entry whatever the feed shows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.feed.entry import KINDS, FeedEntry
from gui.models.feed import KIND_LABELS, FeedFilterProxy, FeedModel
from gui.window.columns import CELL_PADDING_PX, install_column_chooser
from gui.window.tables import board_table

logger = logging.getLogger(__name__)

ROUTINE_SETTING = "feed/routine"
ROUTINE_TEXT = "Show Idle ↔ &Interacting"
SUBJECT_MAX_PX = 320  # a subject wider than this is cut (its tooltip has the whole line)


def _flag(value: object) -> bool:
    return value is True or value in ("true", "1")


class FeedBoard(QWidget):
    """The Feed tab's page; ``view`` is the table.

    Signals:
        kinds_requested(): the Kinds button was clicked (the window opens "Filters & alerts…").
    """

    kinds_requested = Signal()

    def __init__(
        self,
        model: FeedModel,
        proxy: FeedFilterProxy,
        settings: QSettings,
        *,
        journal_available: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = proxy
        self.settings = settings
        self.search = QLineEdit(placeholderText="Search the feed…")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("feedSearch")
        self.search.textChanged.connect(proxy.set_search)

        self.kinds_button = QPushButton()
        self.kinds_button.setObjectName("kindFilter")
        self.kinds_button.clicked.connect(self.kinds_requested.emit)
        proxy.kinds_changed.connect(self._on_proxy_kinds_changed)
        self._on_proxy_kinds_changed(proxy.kinds)
        self.routine_box = QCheckBox(ROUTINE_TEXT)
        self.routine_box.setObjectName("routineBox")
        self.routine_box.setToolTip(
            "Agents moving between Idle and Interacting all day; the journal keeps them anyway"
        )
        self.routine_box.setChecked(_flag(settings.value(ROUTINE_SETTING, False)))
        proxy.set_routine_shown(self.routine_box.isChecked())
        self.routine_box.toggled.connect(self._on_routine_box_toggled)

        self.pause_button = QPushButton("&Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setObjectName("pauseButton")
        self.new_label = QLabel("")
        self.new_label.setObjectName("newLabel")
        self.journal_button = QPushButton("Search the &journal…")
        self.journal_button.setObjectName("feedOlderButton")
        self.journal_button.setToolTip("Search and export everything recorded in the journal")
        self.journal_button.setEnabled(journal_available)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(self.kinds_button)
        bar.addWidget(self.routine_box)
        bar.addWidget(self.pause_button)
        bar.addWidget(self.new_label)
        bar.addWidget(self.journal_button)
        self.view: QTableView = board_table(proxy, "feedView")
        self.view.setSortingEnabled(False)
        install_column_chooser(self.view)
        self.view.horizontalHeader().resizeSection(FeedModel.KIND, self._kind_width())
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view)

    # ------------------------------------------------------------------ kinds
    def _on_proxy_kinds_changed(self, kinds: frozenset[str] | None) -> None:
        shown = set(KINDS) if kinds is None else set(kinds) & set(KINDS)
        every = len(shown) == len(KINDS)
        self.kinds_button.setText(
            "All &kinds…" if every else f"&Kinds: {len(shown)} of {len(KINDS)}…"
        )
        hidden = [KIND_LABELS.get(k, k) for k in KINDS if k not in shown]
        self.kinds_button.setToolTip(
            "Choose the kinds the feed shows (the journal keeps everything)"
            + (f"\nHidden: {', '.join(hidden)}" if hidden else "")
        )

    def _on_routine_box_toggled(self, shown: bool) -> None:
        self.proxy.set_routine_shown(shown)
        self.settings.setValue(ROUTINE_SETTING, shown)

    # ------------------------------------------------------------------ widths
    def _kind_width(self) -> int:
        metrics = QFontMetrics(self.view.font())
        widest = max(metrics.horizontalAdvance(label) for label in KIND_LABELS.values())
        return widest + 16 + CELL_PADDING_PX  # room for the warning icon

    def fit_subjects(self, entries: Sequence[FeedEntry]) -> None:
        """Grow the Subject column (never shrink it, up to a cap) to the new entries' subjects."""
        if not entries:
            return
        metrics = QFontMetrics(self.view.font())
        wanted = max(metrics.horizontalAdvance(e.subject) for e in entries) + CELL_PADDING_PX
        header = self.view.horizontalHeader()
        wanted = min(wanted, SUBJECT_MAX_PX)
        if wanted > header.sectionSize(FeedModel.SUBJECT):
            header.resizeSection(FeedModel.SUBJECT, wanted)
