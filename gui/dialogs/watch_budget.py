"""The topic budget of "What to watch": meters, the figures in words, and refused topics.

A panel of its own so the dialog keeps the person's choice and the budget keeps its picture:
the dialog says which figures to show (live, or a preview of the pending choice), the panel
draws them against the Notification Service's limits.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from core.engine.records import BudgetRecord, SelectionPreview
from core.rest.schema import RejectedTopic
from core.streaming.planner import Budget
from gui.dialogs.watch_text import admin_request, budget_text, subjects_text, topic_label
from gui.plain_text import plain_tooltip


class BudgetPanel(QGroupBox):
    """Channels and topics in use against the limits, and every topic the org refused."""

    def __init__(self, budget: Budget) -> None:
        super().__init__("Topic budget")
        self.budget = budget
        self.channels_bar = QProgressBar()
        self.channels_bar.setObjectName("channelsMeter")
        self.channels_bar.setRange(0, self.budget.max_channels)
        self.channels_bar.setFormat(f"%v of {self.budget.max_channels} channels")
        self.topics_bar = QProgressBar()
        self.topics_bar.setObjectName("topicsMeter")
        self.topics_bar.setRange(0, self.budget.max_topics_per_channel)
        self.topics_bar.setFormat(
            f"%v of {self.budget.max_topics_per_channel} topics on the fullest channel"
        )
        self.meter_source = QLabel("")
        self.meter_source.setObjectName("meterSource")
        self.live_text = QLabel("")
        self.live_text.setObjectName("liveBudget")
        self.live_text.setWordWrap(True)
        self.preview_text = QLabel("")
        self.preview_text.setObjectName("previewBudget")
        self.preview_text.setWordWrap(True)
        self.rejected_list = QTreeWidget()
        self.rejected_list.setObjectName("rejectedTopics")
        self.rejected_list.setHeaderLabels(["Refused topic", "Missing permission"])
        self.rejected_list.setRootIsDecorated(False)
        self.rejected_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.rejected_list.header().setStretchLastSection(False)
        self.rejected_list.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.admin_ask = QLabel("")
        self.admin_ask.setObjectName("adminAsk")
        self.admin_ask.setWordWrap(True)
        self.admin_ask.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.no_rejections = QLabel("No topic was refused.")
        self.no_rejections.setObjectName("noRejections")
        layout = QVBoxLayout(self)
        layout.addWidget(self.meter_source)
        layout.addWidget(self.channels_bar)
        layout.addWidget(self.topics_bar)
        layout.addWidget(self.live_text)
        layout.addWidget(self.preview_text)
        layout.addWidget(self.no_rejections)
        layout.addWidget(self.rejected_list, 1)
        layout.addWidget(self.admin_ask)
        layout.addStretch(0)  # hidden list: the figures stay together at the top

    def show_figures(
        self,
        live: BudgetRecord | None,
        preview: SelectionPreview | None,
        names: Mapping[str, str],
    ) -> None:
        """Show the pending selection's figures when there is a preview, else the live ones.

        Args:
            live: The engine's figures now (None before the first).
            preview: How the pending selection would fit, if worked out.
            names: Queue and agent names by id, for the refused topics.
        """
        shown = preview.budget if preview is not None else live
        self.meter_source.setText(
            "This selection, if applied:" if preview is not None else "In use now:"
        )
        self.live_text.setText(f"In use now: {budget_text(live)}" if live else "")
        if preview is not None:
            self.preview_text.setText(
                f"This selection: {subjects_text(len(preview.users), len(preview.queues))}, "
                f"{budget_text(preview.budget)}"
            )
        if shown is None:
            self.channels_bar.setValue(0)
            self.topics_bar.setValue(0)
        else:
            self.channels_bar.setValue(min(shown.channels, self.budget.max_channels))
            fullest = max(shown.per_channel, default=0)
            self.topics_bar.setValue(min(fullest, self.budget.max_topics_per_channel))
        self._show_rejected(shown.rejected if shown is not None else (), names, preview)

    def _show_rejected(
        self,
        rejected: tuple[RejectedTopic, ...],
        names: Mapping[str, str],
        preview: SelectionPreview | None,
    ) -> None:
        self.rejected_list.clear()
        for topic in rejected:
            label = topic_label(topic.id, names)
            item = QTreeWidgetItem([label, ", ".join(topic.missing_permissions) or "?"])
            item.setData(0, Qt.ItemDataRole.UserRole, topic.id)
            item.setToolTip(0, topic.id)
            item.setToolTip(1, plain_tooltip(topic.reason) or "")
            self.rejected_list.addTopLevelItem(item)
        self.rejected_list.setVisible(bool(rejected))
        self.no_rejections.setVisible(not rejected)
        ask = admin_request(rejected)
        if rejected and preview is not None:
            ask += "\nTopics not subscribed yet are checked when you apply."
        self.admin_ask.setText(ask)
        self.admin_ask.setVisible(bool(rejected))
