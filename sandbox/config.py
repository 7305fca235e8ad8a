"""Settings of one sandbox org.

Every number the Notification Service documents is a setting here, so tests can shrink a 24 h
channel lifetime or a 30 s heartbeat to something a test can wait for, while the defaults stay
those of the real service (shared/genesys-api.md section 4.8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PKCE_CLIENT_ID = "sandbox-desktop"
DEFAULT_CONFIDENTIAL_CLIENT_ID = "sandbox-client"
DEFAULT_CONFIDENTIAL_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a published demo credential


@dataclass(slots=True)
class SandboxConfig:
    """Everything that shapes a sandbox org: size, seed, timings and limits."""

    host: str = "127.0.0.1"
    port: int = 0
    users: int = 200
    queues: int = 20
    seed: int = 1
    heartbeat_s: float = 30.0
    speed: float = 1.0
    simulate: bool = True
    tick_s: float = 0.25
    # The demo's opening: this many simulated seconds in, the first offer of every queue to an
    # agent with nothing else on rings out (NOT_RESPONDING), so a newcomer sees an alert within
    # a minute instead of whenever chance brings one. None: only chance (NO_ANSWER_P).
    opening_ring_out_s: float | None = None

    # Multichannel: queues carry voice, callback, chat, message and email (genesys-api.md 5.9,
    # 6.8); off = every queue and conversation is voice, as the sandbox was at first.
    multichannel: bool = True

    # Variations: every choice the fact sheet leaves open is taken at random (seeded), so a
    # client tuned to one spelling or one grouping fails our own tests. Off = one fixed choice.
    variations: bool = True
    spelling_variation_rate: float = 0.5  # systemPresence not in the surface's usual spelling
    expand_drop_rate: float = 0.05  # GET /users: an expanded presence/routingStatus is missing
    extra_key_rate: float = 0.1  # a JSON object gains an unknown key
    shuffle_keys: bool = True  # JSON object keys in any order
    modified_date_drop_rate: float = 0.2  # presence events without modifiedDate (5.1)
    partial_activity_rate: float = 0.5  # queue activity events with only the changed media
    zero_media_groups_rate: float = 0.5  # observation query answers list zero-count media
    aggregates_zero_groups_rate: float = 0.5  # aggregates answers list queues without traffic
    # Where queue-wide user metrics go in .observations events: "separate" (a {queueId} group),
    # "repeated" (inside every media group's event) or "random" (seeded per queue).
    user_metrics_grouping: str = "random"

    # OAuth
    pkce_client_id: str = DEFAULT_PKCE_CLIENT_ID
    client_id: str = DEFAULT_CONFIDENTIAL_CLIENT_ID
    client_secret: str = DEFAULT_CONFIDENTIAL_CLIENT_SECRET
    token_ttl_s: float = 86_400.0
    code_ttl_s: float = 60.0
    pkce_refresh_tokens: bool = False
    # Exact redirect URIs registered on the PKCE client. Empty means: any loopback
    # http://127.0.0.1:<port>/... or http://localhost:<port>/... (handy for tests with port 0).
    redirect_uris: list[str] = field(default_factory=list)
    login_user: str | None = None  # id, email or name of the user the authorize page signs in

    # Notification Service limits (genesys-api.md 4.8)
    channel_ttl_s: float = 86_400.0
    max_channels: int = 20
    max_topics: int = 1000
    max_combined_topic_len: int = 200
    observation_min_interval_s: float = 1.0
    socket_closing_grace_s: float = 60.0
    max_socket_queue: int = 50_000

    # REST limits (genesys-api.md 3.7, 6.2, 6.4, 6.7)
    user_rate_per_min: int = 3000
    client_rate_per_min: int = 300
    max_users_page_size: int = 500
    max_user_ids: int = 100
    max_presence_bulk_ids: int = 50
    max_members_page_size: int = 100
    max_queues_page_size: int = 500
    # POST /api/v2/analytics/conversations/aggregates/query per token (our setting; the real
    # per-endpoint figure is unconfirmed, genesys-api.md 3.7 says such limits exist).
    aggregates_rate_per_min: int = 60

    # EventBridge (issue 15; shared/genesys-eventbridge-triggers.md 1-4): off unless asked for.
    # Delays are wall-clock seconds (delivery latency is infrastructure, not simulated behaviour,
    # so --speed does not scale them). Rates are per event; the generator is seeded by `seed`.
    eventbridge: bool = False
    eventbridge_queue_name: str = "genesys-eventbridge"  # a unique suffix is added per start
    eventbridge_delay_min_s: float = 0.1
    eventbridge_delay_max_s: float = 2.0
    eventbridge_duplicate_rate: float = 0.02  # delivered twice (same envelope id)
    eventbridge_reorder_rate: float = 0.05  # held back until later events overtook it
    eventbridge_account_drop_rate: float = 0.1  # variations: envelope without "account" (4.3)
    eventbridge_retry_s: float = 0.5  # after a failed SendMessageBatch, try again this much later
    eventbridge_event_source_suffix: str = "tray-monitor"
    eventbridge_aws_account_id: str = "123456789012"
    eventbridge_region: str = "us-east-1"

    # Process Automation triggers (issue 18; fact sheet 5.3): the documented org limits, and a
    # wall-clock scale for delayBySeconds (tests shrink a 60 s delay; 1.0 = as documented).
    triggers_per_minute: int = 6_000
    triggers_per_hour: int = 36_000
    triggers_target_ratio: float = 0.8  # distinct.target.ratio: one workflow's per-minute share
    triggers_delay_scale: float = 1.0
    trigger_optional_drop_rate: float = 0.5  # variations: optional Trigger fields absent, not null

    def sim_seconds(self, real_s: float) -> float:
        """Simulated seconds that pass in ``real_s`` wall seconds at this speed."""
        return real_s * self.speed
