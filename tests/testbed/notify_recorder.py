"""A fake freedesktop notification server that records every ``Notify`` call.

Why: a real notification daemon (dunst, notify-osd) needs X, draws popups that expire on their
own and reports nothing machine-readable. This service speaks the real D-Bus protocol, so the app
and Qt talk to it exactly as they would to a desktop's daemon, and it writes one JSON line per
``Notify`` call that tests can assert on. Pure Python on jeepney (which keyring already installs).

Contract (see /work/shared/ci-recipe.md, section 10), on the session bus:

* owns ``org.freedesktop.Notifications`` at ``/org/freedesktop/Notifications``;
* ``Notify`` returns an increasing id (or ``replaces_id`` when that is non-zero) and appends
  ``{id, app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout, time}``
  to ``--log`` (hint variants are unwrapped; bytes become base64 strings);
* ``GetCapabilities`` -> ``body, actions, icon-static, persistence``;
  ``GetServerInformation`` -> ``(name, vendor, version, spec_version)``;
  ``CloseNotification(id)`` emits ``NotificationClosed(id, 3)``;
* test control, on its own interface ``org.genesys.tray.testbed.NotifyRecorder`` at the same path:
  ``InvokeAction(id, action_key)`` emits ``ActionInvoked(id, action_key)`` as if the user had
  clicked that action (an id the recorder never handed out is answered with InvalidArgs);
* writes ``--ready`` once it owns the name; exits 0 on SIGTERM/SIGINT.

With ``--sni-watcher`` (off by default, so Qt keeps using the XEmbed tray that trayer hosts) it
also owns ``org.kde.StatusNotifierWatcher`` and reports a registered host, which makes Qt switch
to its D-Bus tray; item registrations are then appended to ``--sni-log`` if given.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageFlag,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import MatchRule, message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"
CONTROL_IFACE = "org.genesys.tray.testbed.NotifyRecorder"  # test-only controls, not the spec
WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
INTROSPECT_IFACE = "org.freedesktop.DBus.Introspectable"
PEER_IFACE = "org.freedesktop.DBus.Peer"
CAPABILITIES = ["body", "actions", "icon-static", "persistence"]
SERVER_INFO = ("notify-recorder", "genesys-tray tests", "1.0", "1.2")
CLOSED_BY_CALL = 3  # NotificationClosed reason: closed by a call to CloseNotification
REQUEST_NAME_DO_NOT_QUEUE = 4
PRIMARY_OWNER = 1

NOTIFY_XML = """<node>
 <interface name="org.freedesktop.Notifications">
  <method name="Notify">
   <arg name="app_name" type="s" direction="in"/>
   <arg name="replaces_id" type="u" direction="in"/>
   <arg name="app_icon" type="s" direction="in"/>
   <arg name="summary" type="s" direction="in"/>
   <arg name="body" type="s" direction="in"/>
   <arg name="actions" type="as" direction="in"/>
   <arg name="hints" type="a{sv}" direction="in"/>
   <arg name="expire_timeout" type="i" direction="in"/>
   <arg name="id" type="u" direction="out"/>
  </method>
  <method name="GetCapabilities"><arg name="caps" type="as" direction="out"/></method>
  <method name="GetServerInformation">
   <arg name="name" type="s" direction="out"/><arg name="vendor" type="s" direction="out"/>
   <arg name="version" type="s" direction="out"/>
   <arg name="spec_version" type="s" direction="out"/>
  </method>
  <method name="CloseNotification"><arg name="id" type="u" direction="in"/></method>
  <signal name="NotificationClosed"><arg name="id" type="u"/><arg name="reason" type="u"/></signal>
  <signal name="ActionInvoked"><arg name="id" type="u"/><arg name="action_key" type="s"/></signal>
 </interface>
 <interface name="org.genesys.tray.testbed.NotifyRecorder">
  <method name="InvokeAction">
   <arg name="id" type="u" direction="in"/><arg name="action_key" type="s" direction="in"/>
  </method>
 </interface>
</node>"""

WATCHER_XML = """<node>
 <interface name="org.kde.StatusNotifierWatcher">
  <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
  <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
  <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
  <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
  <property name="ProtocolVersion" type="i" access="read"/>
  <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
  <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
  <signal name="StatusNotifierHostRegistered"/>
 </interface>
</node>"""

Reply = tuple[str, tuple[Any, ...]]  # (D-Bus signature, body) of a method return


class _TerminatedError(BaseException):
    """Raised from the signal handler to leave the blocking receive loop."""


class _UnknownPropertyError(LookupError):
    """Properties.Get named a property the watcher does not have."""


class _InvalidArgsError(ValueError):
    """The call's arguments are well-typed but make no sense (e.g. an unknown notification id)."""


# Argument signatures of the calls that take arguments; anything else must come with none.
IN_SIGNATURES = {
    "Notify": "susssasa{sv}i",
    "CloseNotification": "u",
    "InvokeAction": "us",
    "RegisterStatusNotifierItem": "s",
    "RegisterStatusNotifierHost": "s",
    "Get": "ss",
    "GetAll": "s",
}


def to_json(value: Any) -> Any:
    """Turn a parsed D-Bus value into something ``json.dumps`` accepts, keeping its meaning."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


class Recorder:
    """Answers the Notifications (and optionally the StatusNotifierWatcher) interfaces."""

    def __init__(self, conn: DBusConnection, log: TextIO, sni_log: TextIO | None) -> None:
        self.conn = conn
        self.log = log
        self.sni_log = sni_log
        self.next_id = 1
        self.items: dict[str, str] = {}  # "busname/path" -> owner's unique name
        self.methods: dict[tuple[str, str, str], Callable[[Any], Reply]] = {
            (NOTIFY_PATH, NOTIFY_NAME, "Notify"): self.notify,
            (NOTIFY_PATH, NOTIFY_NAME, "GetCapabilities"): lambda _m: ("as", (CAPABILITIES,)),
            (NOTIFY_PATH, NOTIFY_NAME, "GetServerInformation"): lambda _m: ("ssss", SERVER_INFO),
            (NOTIFY_PATH, NOTIFY_NAME, "CloseNotification"): self.close_notification,
            (NOTIFY_PATH, CONTROL_IFACE, "InvokeAction"): self.invoke_action,
            (NOTIFY_PATH, INTROSPECT_IFACE, "Introspect"): lambda _m: ("s", (NOTIFY_XML,)),
            (WATCHER_PATH, WATCHER_NAME, "RegisterStatusNotifierItem"): self.register_item,
            (WATCHER_PATH, WATCHER_NAME, "RegisterStatusNotifierHost"): self.register_host,
            (WATCHER_PATH, PROPS_IFACE, "Get"): self.prop_get,
            (WATCHER_PATH, PROPS_IFACE, "GetAll"): lambda _m: ("a{sv}", (self.props(),)),
            (WATCHER_PATH, INTROSPECT_IFACE, "Introspect"): lambda _m: ("s", (WATCHER_XML,)),
            (NOTIFY_PATH, PEER_IFACE, "Ping"): lambda _m: ("", ()),
            (WATCHER_PATH, PEER_IFACE, "Ping"): lambda _m: ("", ()),
        }

    # -- org.freedesktop.Notifications ------------------------------------------------------
    def notify(self, msg: Any) -> Reply:
        """Record the call as one JSON line and hand back its id."""
        app_name, replaces_id, app_icon, summary, body, actions, hints, expire = msg.body
        nid = int(replaces_id)
        if nid == 0:
            nid = self.next_id
            self.next_id += 1
        entry = {
            "id": nid,
            "app_name": app_name,
            "replaces_id": int(replaces_id),
            "app_icon": app_icon,
            "summary": summary,
            "body": body,
            "actions": list(actions),
            "hints": {str(k): to_json(v[1]) for k, v in hints.items()},
            "expire_timeout": int(expire),
            "time": time.time(),
        }
        self.log.write(json.dumps(entry, sort_keys=True) + "\n")
        self.log.flush()
        return "u", (nid,)

    def close_notification(self, msg: Any) -> Reply:
        """Acknowledge and emit NotificationClosed, as a daemon does when the app closes one."""
        emitter = DBusAddress(NOTIFY_PATH, interface=NOTIFY_NAME)
        self.conn.send(
            new_signal(emitter, "NotificationClosed", "uu", (int(msg.body[0]), CLOSED_BY_CALL))
        )
        return "", ()

    def invoke_action(self, msg: Any) -> Reply:
        """Test control: emit ActionInvoked for a notification id this recorder handed out."""
        nid, action_key = int(msg.body[0]), str(msg.body[1])
        if not 0 < nid < self.next_id:
            raise _InvalidArgsError(f"no notification {nid}")
        emitter = DBusAddress(NOTIFY_PATH, interface=NOTIFY_NAME)
        self.conn.send(new_signal(emitter, "ActionInvoked", "us", (nid, action_key)))
        return "", ()

    # -- org.kde.StatusNotifierWatcher ------------------------------------------------------
    def props(self) -> dict[str, tuple[str, Any]]:
        """The watcher's properties; it always claims a host so Qt picks its D-Bus tray."""
        return {
            "RegisteredStatusNotifierItems": ("as", sorted(self.items)),
            "IsStatusNotifierHostRegistered": ("b", True),
            "ProtocolVersion": ("i", 0),
        }

    def prop_get(self, msg: Any) -> Reply:
        """Properties.Get; an unknown name is answered with UnknownProperty."""
        _iface, name = msg.body
        props = self.props()
        if name not in props:
            raise _UnknownPropertyError(f"no property {name}")
        return "v", (props[str(name)],)

    def register_item(self, msg: Any) -> Reply:
        """Remember the item (a bus name, or an object path on the caller's connection)."""
        sender = str(msg.header.fields.get(HeaderFields.sender, ""))
        arg = str(msg.body[0])
        key = f"{sender}{arg}" if arg.startswith("/") else f"{arg}/StatusNotifierItem"
        self.items[key] = sender
        self._sni_event("item_registered", key, sender)
        emitter = DBusAddress(WATCHER_PATH, interface=WATCHER_NAME)
        self.conn.send(new_signal(emitter, "StatusNotifierItemRegistered", "s", (key,)))
        return "", ()

    def register_host(self, msg: Any) -> Reply:
        """Accept a host; the watcher reports one regardless."""
        self._sni_event("host_registered", str(msg.body[0]), "")
        emitter = DBusAddress(WATCHER_PATH, interface=WATCHER_NAME)
        self.conn.send(new_signal(emitter, "StatusNotifierHostRegistered"))
        return "", ()

    def owner_gone(self, name: str) -> None:
        """Drop items whose connection left the bus (NameOwnerChanged with an empty new owner)."""
        for key in [k for k, owner in self.items.items() if owner == name]:
            del self.items[key]
            self._sni_event("item_unregistered", key, name)
            emitter = DBusAddress(WATCHER_PATH, interface=WATCHER_NAME)
            self.conn.send(new_signal(emitter, "StatusNotifierItemUnregistered", "s", (key,)))

    def _sni_event(self, event: str, item: str, sender: str) -> None:
        if self.sni_log is not None:
            line = {"event": event, "item": item, "sender": sender, "time": time.time()}
            self.sni_log.write(json.dumps(line, sort_keys=True) + "\n")
            self.sni_log.flush()

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, msg: Any) -> None:
        """Answer one incoming message; every method call gets a reply or an error."""
        fields = msg.header.fields
        if msg.header.message_type == MessageType.signal:
            if fields.get(HeaderFields.member) == "NameOwnerChanged":
                name, _old, new = msg.body
                if not new:
                    self.owner_gone(str(name))
            return
        if msg.header.message_type != MessageType.method_call:
            return
        path = fields.get(HeaderFields.path, "")
        iface = fields.get(HeaderFields.interface, "")
        member = fields.get(HeaderFields.member, "")
        handler = self.methods.get((path, iface, member))
        if handler is None and not iface:  # the interface field is optional in a call
            handler = next(
                (h for (p, _i, m), h in self.methods.items() if p == path and m == member), None
            )
        signature = fields.get(HeaderFields.signature, "")
        if handler is None:
            err, text = "UnknownMethod", f"no method {iface}.{member} at {path}"
        elif signature != IN_SIGNATURES.get(member, ""):
            err, text = "InvalidArgs", f"{member} takes ({IN_SIGNATURES.get(member, '')})"
        else:
            try:
                out_signature, body = handler(msg)
            except _UnknownPropertyError as exc:
                err, text = "UnknownProperty", str(exc)
            except _InvalidArgsError as exc:
                err, text = "InvalidArgs", str(exc)
            except Exception as exc:  # a bug here must not take the whole bed down
                traceback.print_exc()
                err, text = "Failed", repr(exc)
            else:
                err, text = "", ""
        if err:
            reply = new_error(msg, f"org.freedesktop.DBus.Error.{err}", "s", (text,))
        else:
            reply = new_method_return(msg, out_signature or None, body)
        if not msg.header.flags & MessageFlag.no_reply_expected:
            self.conn.send(reply)


def request_name(conn: DBusConnection, name: str) -> None:
    """Own ``name`` or exit: a second daemon on the bus would make every assertion ambiguous."""
    reply = conn.send_and_get_reply(message_bus.RequestName(name, REQUEST_NAME_DO_NOT_QUEUE))
    if reply.body[0] != PRIMARY_OWNER:
        sys.exit(f"notify_recorder: {name} is already owned on this bus")


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--log", required=True, type=Path, help="JSON lines, one per Notify call")
    ap.add_argument("--ready", type=Path, help="written once the bus name(s) are owned")
    ap.add_argument(
        "--sni-watcher",
        action="store_true",
        help="also act as org.kde.StatusNotifierWatcher (makes Qt use its D-Bus tray)",
    )
    ap.add_argument("--sni-log", type=Path, help="JSON lines of tray item registrations")
    args = ap.parse_args(argv)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise _TerminatedError(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    with contextlib.ExitStack() as stack:
        conn = stack.enter_context(open_dbus_connection(bus="SESSION"))
        log = stack.enter_context(args.log.open("a", encoding="utf-8"))
        sni_log = (
            stack.enter_context(args.sni_log.open("a", encoding="utf-8")) if args.sni_log else None
        )
        recorder = Recorder(conn, log, sni_log)
        request_name(conn, NOTIFY_NAME)
        if args.sni_watcher:
            rule = MatchRule(
                type="signal", sender="org.freedesktop.DBus", member="NameOwnerChanged"
            )
            conn.send_and_get_reply(message_bus.AddMatch(rule))
            request_name(conn, WATCHER_NAME)
        if args.ready:
            tmp = args.ready.with_name(args.ready.name + ".tmp")
            tmp.write_text(f"{os.getpid()}\n", encoding="utf-8")
            tmp.replace(args.ready)  # atomic: a poller never sees a half-written file
            stack.callback(args.ready.unlink, missing_ok=True)
        try:
            while True:
                recorder.handle(conn.receive())
        except _TerminatedError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            print("notify_recorder: the bus went away", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
