"""The EventBridge source's status in words a supervisor understands (status bar, tray, CLI).

Pure functions: the GUI and ``listen`` share them, and each state's wording is tested once.
"""

from __future__ import annotations

import logging

from core.eventbridge.events import SourceStatus

logger = logging.getLogger(__name__)

LAG_LIMIT_S = 30.0  # behind by more than this: a health problem, not just a number
NAME = "EventBridge"


def lag_text(seconds: float) -> str:
    """``0.8 s``, ``12 s``, ``3 min 5 s``, ``2 h 4 min``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def unhealthy(status: SourceStatus) -> bool:
    """Down, lagging, or more than :data:`LAG_LIMIT_S` behind: shown as a warning."""
    if status.state in ("down", "lagging"):
        return True
    return status.state == "live" and status.lag_s is not None and status.lag_s > LAG_LIMIT_S


def _backlog(status: SourceStatus) -> str:
    return "" if status.backlog is None else f", backlog {status.backlog:,}"


def _problem(status: SourceStatus) -> str:
    """What is wrong, in the source's own words or a plain default."""
    detail = status.detail.strip().rstrip(".")
    if detail:
        return detail
    if status.state == "down":
        return "queue unreachable, retrying"
    lag = "" if status.lag_s is None else f"behind by {lag_text(status.lag_s)}"
    return ", ".join(p for p in (lag, _backlog(status).lstrip(", ")) if p) or "falling behind"


def short_text(status: SourceStatus) -> str:
    """The status bar's part: ``EventBridge lag 0.8 s, backlog 0``."""
    state = status.state
    if state == "off":
        return f"{NAME} off"
    if state == "starting":
        return f"{NAME} starting"
    if state == "down":
        return f"{NAME} down: {_problem(status)}"
    if state == "lagging" or unhealthy(status):
        lag = "" if status.lag_s is None else f" by {lag_text(status.lag_s)}"
        return f"{NAME} behind{lag}{_backlog(status)}"
    if status.lag_s is None:
        return f"{NAME} live{_backlog(status)}"
    return f"{NAME} lag {lag_text(status.lag_s)}{_backlog(status)}"


def problem_line(status: SourceStatus) -> str:
    """The tray's health line (``EventBridge: queue unreachable, retrying``); "" when well."""
    if not unhealthy(status):
        return ""
    return f"{NAME}: {_problem(status)}"


def brief_text(status: SourceStatus) -> str:
    """Like :func:`short_text`, but a problem only named (its words go on a line of their own)."""
    if status.state == "down":
        return f"{NAME} down"
    if unhealthy(status):
        return f"{NAME} behind" + ("" if status.lag_s is None else f" by {lag_text(status.lag_s)}")
    return short_text(status)


def websocket_text(state_text: str) -> str:
    """The WebSocket's part: ``WebSocket live``, ``WebSocket reconnecting…``."""
    return f"WebSocket {state_text[:1].lower()}{state_text[1:]}" if state_text else "WebSocket"


def both_sources(websocket: str, status: SourceStatus | None, *, brief: bool = False) -> str:
    """``WebSocket live · EventBridge lag 0.8 s, backlog 0``; the WebSocket's alone without one."""
    ws = websocket_text(websocket)
    if status is None:
        return ws
    return f"{ws} · {brief_text(status) if brief else short_text(status)}"
