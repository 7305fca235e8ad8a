"""Which users and queues are watched now, and the store rows that go with them.

A subject that stops being watched is *retired*: its store row goes, and a late frame of its
unsubscribed topic or a re-sync read before it went must not bring it back.
"""

from __future__ import annotations

from core.engine.freshness import StreamFreshness
from core.engine.records import WatchRecord
from core.engine.selection import Resolution, Watch
from core.state.store import Store
from core.streaming.events import Event


def subject_of(event: Event) -> str:
    """The user or queue an event is about (a membership change belongs to its queue)."""
    queue_id = getattr(event, "queue_id", None)
    return str(queue_id if queue_id is not None else getattr(event, "user_id", ""))


class WatchKeeper:
    """Keeps the watch, the store's rows and the retired subjects in step."""

    def __init__(self, store: Store, freshness: StreamFreshness) -> None:
        self.store = store
        self.freshness = freshness
        self.current = Watch()
        self.retired: set[str] = set()  # no longer watched: late frames and re-syncs skip them

    def adopt(self, resolution: Resolution) -> WatchRecord:
        """Make a resolution the watch: keep what stays, drop the store rows of what goes."""
        old = self.current
        users, queues = resolution.users, resolution.queues
        for queue_id, pairs in resolution.members.items():
            state = self.store.queue(queue_id)
            for user_id, joined in pairs:
                state.member_ids.add(user_id)
                if joined:
                    state.joined_ids.add(user_id)
        self.current = Watch(dict(users), dict(queues))
        for queue_id, name in queues.items():
            queue = self.store.queue(queue_id)
            queue.name = name or queue.name
        for user_id, name in users.items():
            user = self.store.user(user_id)
            user.name = name or user.name
        gone_users = set(old.users) - set(users)
        gone_queues = set(old.queues) - set(queues)
        for user_id in gone_users:
            self.store.users.pop(user_id, None)
            self.freshness.forget_user(user_id)
        for queue_id in gone_queues:
            self.store.queues.pop(queue_id, None)
            self.freshness.forget_queue(queue_id)
        self.retired = (self.retired | gone_users | gone_queues) - set(users) - set(queues)
        return WatchRecord(dict(users), dict(queues))

    def add_user(self, user_id: str) -> WatchRecord:
        """Watch one more user (a new member of a watched queue)."""
        self.current.users[user_id] = ""
        self.retired.discard(user_id)
        self.store.user(user_id)
        return WatchRecord(dict(self.current.users), dict(self.current.queues))
