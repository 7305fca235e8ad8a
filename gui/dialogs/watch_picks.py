"""A search box over a checkable list: the queue and agent pickers of "What to watch"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)


class PickList(QWidget):
    """A search box over a checkable list of (id, name) pairs."""

    def __init__(self, name: str, placeholder: str) -> None:
        super().__init__()
        self.search = QLineEdit(placeholderText=placeholder)
        self.search.setObjectName(f"{name}Search")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.list = QListWidget()
        self.list.setObjectName(f"{name}List")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setUniformItemSizes(True)
        self.list.setMinimumHeight(110)
        self.count = QLabel("")
        self.count.setObjectName(f"{name}Count")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count)

    def fill(self, names: Mapping[str, str], checked: Iterable[str]) -> None:
        """Show these entries (picked ones first), keeping picks unknown to ``names``."""
        picked = set(checked)
        entries = dict(names)
        for missing in picked - set(entries):  # before the org's lists load: just the id
            entries[missing] = f"{missing[:8]}…" + (" (not found)" if names else "")
        self.list.blockSignals(True)
        self.list.clear()
        order = sorted(entries.items(), key=lambda kv: (kv[0] not in picked, kv[1].lower()))
        for entry_id, name in order:
            item = QListWidgetItem(name or entry_id[:8])
            item.setData(Qt.ItemDataRole.UserRole, entry_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if entry_id in picked else Qt.CheckState.Unchecked
            )
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._on_search_text_changed(self.search.text())

    def picked(self) -> tuple[str, ...]:
        """Ids checked, in list order."""
        return tuple(
            str(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
            if self.list.item(row).checkState() == Qt.CheckState.Checked
        )

    def set_checked(self, entry_id: str, checked: bool = True) -> None:
        """Check or uncheck one entry (as a click would)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == entry_id:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def visible_ids(self) -> list[str]:
        """Ids the search leaves shown."""
        return [
            str(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
            if not self.list.item(row).isHidden()
        ]

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        shown = 0
        for row in range(self.list.count()):
            item = self.list.item(row)
            hide = bool(needle) and needle not in item.text().lower()
            item.setHidden(hide)
            shown += not hide
        self.count.setText(f"{len(self.picked())} picked · {shown} shown")
