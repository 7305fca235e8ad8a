"""The tray icon: health at a glance, a one-glance tooltip and the context menu.

:class:`TrayController` only shows state and asks for things: it never acts itself. The
composition root connects its ``*_requested`` signals to the window and to the service, and feeds
it through the ``set_*`` methods (the bridge's ``state_changed``, the alert engine, the feed's
pause switch). The menu is rebuilt every time it is about to show, so its check marks and the
status line always match the state, and each rebuild deletes the previous actions.

The icon says two things: the connection (the glyph's shape and colour) and the queues (a badge
with the calls waiting on the worst queue's level colour, see gui.tray.icons). The tooltip says
the connection once, then one line per queue out of limits (or "All queues within limits").

For a signed-in person the icon also shows *my* status (the me mark, see gui.tray.icons) and the
menu has "My status": the org's presences (primary ones first, the org's own after; the current
one checked) and "Go On Queue" / "Go Off Queue". Choosing one only asks (``presence_requested``,
``routing_requested``); the new status shows once the org says so. A service account has no
"me": no submenu, no mark.
"""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from core.app.me import MyStatus, PresenceChoice
from core.eventbridge.events import SourceStatus
from core.eventbridge.words import both_sources, problem_line
from gui.tray.icons import QUEUE_LEVELS, STATES, tray_icon

logger = logging.getLogger(__name__)

STATE_LABELS: dict[str, str] = {
    "live": "Live",
    "stale": "Stale",
    "reconnecting": "Reconnecting",
    "resyncing": "Catching up",
    "starting": "Starting",
    "offline": "Offline",
    "sign_in_needed": "Sign-in needed",
    "stopped": "Stopped",
}
# The engine's own detail for a state with nothing more to say (core.engine.service): shown
# after the state's label it would read twice ("Live" and then "live").
STATE_ECHOES: dict[str, frozenset[str]] = {
    "live": frozenset({"live"}),
    "resyncing": frozenset({"re-syncing", "resyncing", "catching up"}),
    "starting": frozenset({"starting"}),
    "reconnecting": frozenset({"reconnecting"}),
    "stopped": frozenset({"stopped"}),
    "sign_in_needed": frozenset({"sign-in needed"}),
}
MAX_SUMMARY_LINES = 8  # the tooltip is a glance, not a report
ACTION_OPEN = "Open monitor"
ACTION_PAUSE = "Pause feed"
ACTION_RECONNECT = "Reconnect now"
ACTION_FILTERS = "Filters && alerts…"  # "&&": a literal "&", not a mnemonic marker
ACTION_WATCH = "What to watch…"
ACTION_TRIGGERS = "Triggers…"  # the org's Genesys Cloud triggers (gui.triggers_ui)
ACTION_SETTINGS = "Settings…"
ACTION_QUIT = "Quit"
ACTION_SIGN_IN = "Sign in again…"
ACTION_PROFILE = "Profile"
ACTION_SNOOZE = "Snooze alerts"
ACTION_RESUME = "Resume alerts"
ACTION_MY_STATUS = "My status"
ACTION_ON_QUEUE = "Go On Queue"
ACTION_OFF_QUEUE = "Go Off Queue"
UNTIL_TOMORROW = -1.0  # snooze_requested value: until tomorrow morning
SNOOZE_CHOICES = (("15 minutes", 15 * 60.0), ("1 hour", 3600.0), ("Until tomorrow", UNTIL_TOMORROW))
BALLOON_TIMEOUT_MS = 10_000
BALLOON_ICONS = {
    "info": QSystemTrayIcon.MessageIcon.Information,
    "warning": QSystemTrayIcon.MessageIcon.Warning,
    "critical": QSystemTrayIcon.MessageIcon.Critical,
}


class TrayController(QObject):
    """The system tray icon of the monitor, with its tooltip and context menu.

    Signals:
        toggle_window_requested(): the icon was clicked: show the monitor, or hide it if shown.
        open_window_requested(): the icon was double-clicked or "Open monitor" chosen.
        pause_toggled(bool): "Pause feed" was toggled; True asks to pause. The tray's own check
            mark follows :meth:`set_paused`, not the click.
        reconnect_requested(): "Reconnect now" was chosen.
        filters_requested(): "Filters & alerts…" was chosen.
        watch_requested(): "What to watch…" was chosen.
        settings_requested(): "Settings…" was chosen.
        quit_requested(): "Quit" was chosen.
        sign_in_requested(): "Sign in again…" was chosen (offered while sign-in is needed).
        profile_requested(str): another org was chosen in the "Profile" submenu (its key).
        balloon_clicked(): the message shown by :meth:`show_balloon` was clicked.
        snooze_requested(float): snooze alerts for this many seconds; 0 resumes them and
            ``UNTIL_TOMORROW`` asks for the rest of the night.
        presence_requested(str): a presence was chosen in "My status" (its definition id).
        routing_requested(bool): "Go On Queue" (True) or "Go Off Queue" (False) was chosen.
    """

    toggle_window_requested = Signal()
    open_window_requested = Signal()
    pause_toggled = Signal(bool)
    reconnect_requested = Signal()
    filters_requested = Signal()
    triggers_requested = Signal()  # "Triggers…" was chosen
    watch_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()
    sign_in_requested = Signal()
    profile_requested = Signal(str)
    balloon_clicked = Signal()
    snooze_requested = Signal(float)
    presence_requested = Signal(str)
    routing_requested = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        """Create the (hidden) tray icon in the "starting" state."""
        super().__init__(parent)
        self._state = "starting"
        self._detail = ""
        self._paused = False
        self._snoozed = False
        self._alerts = 0
        self._queue_level: str | None = None  # the worst watched queue's; None: not known
        self._waiting = 0
        self._summary: list[str] = []
        self._as_of: datetime | None = None
        self._eventbridge: SourceStatus | None = None  # None: no EventBridge queue set up
        self._icon_key: tuple[object, ...] = ()
        self._shown_state = ""  # the connection state the icon last showed (logged on change)
        self._tray = QSystemTrayIcon(self)
        # A QMenu is a QWidget and cannot have a QObject parent: this object owns it, and deletes
        # it with itself (a menu left behind would outlive the tray for the whole session).
        self._menu = QMenu()
        self._snooze_menu = QMenu(ACTION_SNOOZE)  # kept across rebuilds: clear() never frees it
        self._profile_menu = QMenu(ACTION_PROFILE)
        self._profiles: list[tuple[str, str]] = []  # (key, label) of every org, in menu order
        self._active_profile = ""
        self._me_menu = QMenu(ACTION_MY_STATUS)
        self._me_choices: tuple[PresenceChoice, ...] | None = None  # None: no "me" (service)
        self._me: MyStatus | None = None
        self.destroyed.connect(self._menu.deleteLater)
        self.destroyed.connect(self._snooze_menu.deleteLater)
        self.destroyed.connect(self._profile_menu.deleteLater)
        self.destroyed.connect(self._me_menu.deleteLater)
        self._menu.aboutToShow.connect(self._on_menu_about_to_show)
        self._tray.setContextMenu(self._menu)
        self._tray.activated.connect(self._on_tray_activated)
        self._tray.messageClicked.connect(self.balloon_clicked)
        QGuiApplication.styleHints().colorSchemeChanged.connect(
            self._on_style_hints_color_scheme_changed
        )
        self._refresh()
        self._rebuild_menu()

    # ------------------------------------------------------------------------------ queries
    @staticmethod
    def available() -> bool:
        """Whether the desktop has a system tray to show the icon in."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def is_visible(self) -> bool:
        """Whether the icon is shown."""
        return self._tray.isVisible()

    def geometry(self) -> QRect:
        """Where the icon is on the screen (empty until docked, and on some platforms always)."""
        return self._tray.geometry()

    def icon(self) -> QIcon:
        """The icon shown now."""
        return self._tray.icon()

    def tooltip(self) -> str:
        """The tooltip shown now."""
        return self._tray.toolTip()

    def queue_level(self) -> str | None:
        """The worst queue's level the icon shows (ok, warning, critical), None when unknown."""
        return self._queue_level

    def waiting(self) -> int:
        """The calls waiting the icon's badge counts."""
        return self._waiting

    def menu(self) -> QMenu:
        """The context menu (rebuilt on each show)."""
        return self._menu

    def me_menu(self) -> QMenu:
        """The "My status" submenu (part of the menu only for a signed-in person)."""
        return self._me_menu

    def my_status(self) -> MyStatus | None:
        """My status the icon's me mark shows (None: no mark)."""
        return self._me if self._me_choices is not None else None

    def profile_menu(self) -> QMenu:
        """The "Profile" submenu (part of the menu only when there is more than one org)."""
        return self._profile_menu

    # -------------------------------------------------------------------------------- show
    def show(self) -> bool:
        """Show the icon; returns False (and logs why) when there is no system tray."""
        if not self.available():
            logger.warning("no system tray on this desktop: the monitor window stays the only view")
            return False
        self._tray.show()
        return True

    def hide(self) -> None:
        """Remove the icon from the tray (do this before quitting: no ghost icon stays)."""
        self._tray.hide()

    def show_balloon(self, title: str, body: str, severity: str = "info") -> None:
        """Show a message from the icon; ``severity`` (info, warning, critical) picks its icon.

        With an XEmbed tray Qt draws a balloon under the icon; with a StatusNotifierItem host it
        sends a D-Bus notification itself (ci-recipe section 5).
        """
        icon = BALLOON_ICONS.get(severity, QSystemTrayIcon.MessageIcon.Information)
        self._tray.showMessage(title, body, icon, BALLOON_TIMEOUT_MS)

    # ----------------------------------------------------------------------------- state in
    def set_health(self, state: str, detail: str = "") -> None:
        """Show the engine's health (a core.engine.records.EngineState value) and its detail line.

        Raises:
            ValueError: for a state the tray has no icon for.
        """
        if state not in STATES:
            raise ValueError(f"unknown health state {state!r}; expected one of {', '.join(STATES)}")
        entry_changed = (state == "sign_in_needed") != (self._state == "sign_in_needed")
        self._state = state
        self._detail = detail
        self._refresh()
        if entry_changed:  # an exported (D-Bus) menu may not ask before it shows
            self._rebuild_menu()

    def set_paused(self, paused: bool) -> None:
        """Show whether the feed is paused (dimmed icon, pause plate, menu check mark)."""
        self._paused = paused
        self._refresh()

    def set_snoozed(self, snoozed: bool) -> None:
        """Show whether alert notifications are snoozed ("z" plate)."""
        self._snoozed = snoozed
        self._refresh()

    def set_alert_count(self, count: int) -> None:
        """Show the number of active alerts in the corner badge (0 hides it)."""
        self._alerts = max(0, count)
        self._refresh()

    def set_queue_state(self, level: str | None, waiting: int) -> None:
        """Show the worst queue's level and the calls waiting in all queues on the icon.

        Raises:
            ValueError: for a level other than ok, warning, critical (or None).
        """
        if level is not None and level not in QUEUE_LEVELS:
            raise ValueError(
                f"unknown queue level {level!r}; expected one of ok, warning, critical"
            )
        self._queue_level = level
        self._waiting = max(0, waiting)
        self._refresh()

    def set_profiles(self, profiles: list[tuple[str, str]], active: str) -> None:
        """The orgs to offer in the "Profile" submenu ((key, label) pairs) and the active key.

        The submenu appears once there is more than one to choose from.
        """
        self._profiles = list(profiles)
        self._active_profile = active
        self._rebuild_menu()

    def set_me(self, choices: tuple[PresenceChoice, ...] | None) -> None:
        """Offer "My status" with these presences; None: nobody signed in as a person."""
        self._me_choices = choices
        self._refresh()
        self._rebuild_menu()

    def set_my_status(self, status: MyStatus | None) -> None:
        """Show my presence and routing (the me mark, the tooltip, the menu's check marks)."""
        if status == self._me:
            return
        self._me = status
        self._refresh()
        self._rebuild_menu()  # an exported (D-Bus) menu may not ask before it shows

    def set_eventbridge(self, status: SourceStatus | None) -> None:
        """Show the EventBridge source next to the WebSocket (None: no queue set up)."""
        self._eventbridge = status
        self._refresh()

    def set_summary(self, lines: list[str], as_of: datetime | None) -> None:
        """Set the tooltip's summary lines (e.g. "Sales EN: 3 waiting") and the data's time."""
        self._summary = list(lines)
        self._as_of = as_of
        self._refresh()

    # ------------------------------------------------------------------------------- slots
    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window_requested.emit()
        elif reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.open_window_requested.emit()

    def _on_menu_about_to_show(self) -> None:
        self._rebuild_menu()

    def _on_pause_action_triggered(self, checked: bool) -> None:
        self.pause_toggled.emit(checked)

    def _on_profile_chosen(self, key: str) -> None:
        if key != self._active_profile:  # the check marks are redrawn on the next show
            self.profile_requested.emit(key)

    def _on_style_hints_color_scheme_changed(self) -> None:
        self._refresh()

    # ----------------------------------------------------------------------------- drawing
    def status_line(self) -> str:
        """The first tooltip line: state, and how old the data is ("Live · data as of 14:03:21")."""
        parts = [STATE_LABELS[self._state]]
        if self._as_of is not None:
            parts.append(f"data as of {_clock(self._as_of)}")
        return " · ".join(parts)

    def _tooltip_lines(self) -> list[str]:
        lines = [self.status_line()]
        if self._eventbridge is not None:  # "WebSocket live · EventBridge lag 0.8 s, backlog 0"
            lines = [both_sources(STATE_LABELS[self._state], self._eventbridge, brief=True)]
            problem = problem_line(self._eventbridge)  # "EventBridge: queue unreachable, …"
            lines.extend([problem] if problem else [])
            lines.extend([f"Data as of {_clock(self._as_of)}"] if self._as_of else [])
        if self._detail and not self._echoes_state(self._detail):
            lines.append(self._detail)
        me = self.my_status()
        if me is not None and me.words():
            lines.append(f"Me: {me.words()}")
        if self._paused:
            lines.append("Feed paused")
        elif self._snoozed:
            lines.append("Alerts snoozed")
        lines.extend(self._summary[:MAX_SUMMARY_LINES])
        if len(self._summary) > MAX_SUMMARY_LINES:
            lines.append(f"… and {len(self._summary) - MAX_SUMMARY_LINES} more")
        if self._alerts:
            lines.append(f"{self._alerts} alert{'s' if self._alerts != 1 else ''}")
        return lines

    def _echoes_state(self, detail: str) -> bool:
        """Whether the detail only repeats the state (the connection is said once)."""
        words = detail.strip().rstrip(".…").strip().lower()
        label = STATE_LABELS[self._state].lower()
        return words in (label, self._state) or words in STATE_ECHOES.get(self._state, ())

    def _refresh(self) -> None:
        icon = tray_icon(
            self._state,
            alerts=self._alerts,
            paused=self._paused,
            snoozed=self._snoozed,
            queue_level=self._queue_level,
            waiting=self._waiting,
            me_presence=me.system_presence if (me := self.my_status()) is not None else None,
            me_routing=me.routing if me is not None else None,
        )
        key = (icon.cacheKey(),)
        if key != self._icon_key:  # re-setting the same icon makes XEmbed repaint (flicker)
            self._icon_key = key
            self._tray.setIcon(icon)
            if self._state != self._shown_state:  # once per connection state, for the logs
                self._shown_state = self._state
                logger.info("tray icon shows %s", self._state)
        tooltip = "\n".join(self._tooltip_lines())
        if tooltip != self._tray.toolTip():
            self._tray.setToolTip(tooltip)

    def _rebuild_menu(self) -> None:
        menu = self._menu
        menu.clear()  # deletes the actions the menu owns: every action below is created by it
        status = menu.addAction(self.status_line())
        status.setEnabled(False)
        if self._state == "sign_in_needed":
            menu.addAction(ACTION_SIGN_IN).triggered.connect(self.sign_in_requested)
        if self._me_choices is not None:
            self._fill_me_menu(self._me_choices)
            menu.addMenu(self._me_menu)
        menu.addSeparator()
        open_action = menu.addAction(ACTION_OPEN)
        open_action.triggered.connect(self.open_window_requested)
        menu.setDefaultAction(open_action)
        pause = menu.addAction(ACTION_PAUSE)
        pause.setCheckable(True)
        pause.setChecked(self._paused)
        pause.triggered.connect(self._on_pause_action_triggered)
        menu.addAction(ACTION_RECONNECT).triggered.connect(self.reconnect_requested)
        menu.addAction(ACTION_WATCH).triggered.connect(self.watch_requested)
        menu.addAction(ACTION_FILTERS).triggered.connect(self.filters_requested)
        menu.addAction(ACTION_TRIGGERS).triggered.connect(self.triggers_requested)
        if self._snoozed:
            resume = menu.addAction(ACTION_RESUME)
            resume.triggered.connect(lambda: self.snooze_requested.emit(0.0))
        else:
            self._snooze_menu.clear()
            for label, seconds in SNOOZE_CHOICES:
                choice = self._snooze_menu.addAction(label)
                choice.triggered.connect(lambda _=False, s=seconds: self.snooze_requested.emit(s))
            menu.addMenu(self._snooze_menu)
        if len(self._profiles) > 1:
            self._profile_menu.clear()
            for key, label in self._profiles:
                choice = self._profile_menu.addAction(label)
                choice.setCheckable(True)
                choice.setChecked(key == self._active_profile)
                choice.triggered.connect(lambda _=False, k=key: self._on_profile_chosen(k))
            menu.addMenu(self._profile_menu)
        menu.addAction(ACTION_SETTINGS).triggered.connect(self.settings_requested)
        menu.addSeparator()
        menu.addAction(ACTION_QUIT).triggered.connect(self.quit_requested)

    def _fill_me_menu(self, choices: tuple[PresenceChoice, ...]) -> None:
        """The org's presences (primary first, the current one checked), then the queue."""
        menu, me = self._me_menu, self._me
        menu.clear()
        current = me.definition_id if me is not None else None
        primary = True
        for choice in choices:
            if primary and not choice.primary:
                menu.addSeparator()  # the org's own presences ("Lunch") after the primary ones
                primary = False
            action = menu.addAction(choice.label.replace("&", "&&"))
            action.setCheckable(True)
            action.setChecked(choice.id == current)
            action.setData(choice.id)
            action.triggered.connect(
                lambda _=False, pid=choice.id: self.presence_requested.emit(pid)
            )
        menu.addSeparator()
        on_queue = me is not None and me.on_queue
        for text, wanted in ((ACTION_ON_QUEUE, True), (ACTION_OFF_QUEUE, False)):
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(me is not None and on_queue == wanted)
            action.triggered.connect(lambda _=False, w=wanted: self.routing_requested.emit(w))


def _clock(moment: datetime) -> str:
    """HH:MM:SS in local time (an aware time is converted; a naive one is taken as local)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%H:%M:%S")
