"""P1 (c): the official Genesys Python SDK deserialising the recorded event bodies.

Run only as a subprocess (``python -m benchmarks.sdk_ingest``): importing
``PureCloudPlatformClientV2`` starts a watchdog thread and reads a per-user config file. For each
recorded frame it does what the SDK does with a JSON payload - ``json.loads`` and
``ApiClient.__deserialize`` into the topic's model class (the same topic → model table as
tests/integration/test_sdk_shapes.py). No socket: the figure is the SDK's parsing ceiling, which
flatters it. Prints one JSON line: frames, seconds, events_per_s.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from typing import Any

from benchmarks.record_frames import load_frames

TOPIC_MODELS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), model)
    for pattern, model in (
        (r"^v2\.users\.[^.]+\.presence$", "PresenceEventUserPresence"),
        (r"^v2\.users\.[^.]+\.routingStatus$", "UserRoutingStatusUserRoutingStatus"),
        (r"^v2\.users\.[^.]+\.activity$", "AgentActivityChangedTopicAgentActivity"),
        (r"^v2\.routing\.queues\.[^.]+\.conversations$", "QueueConversationEventTopicConversation"),
        (
            r"^v2\.routing\.queues\.[^.]+\.conversations\.calls$",
            "QueueConversationCallEventTopicCallConversation",
        ),
        (r"^v2\.routing\.queues\.[^.]+\.users$", "QueueUserEventTopicQueueMember"),
        (r"^v2\.analytics\.queues\.[^.]+\.observations$", "StatEventQueueTopicStatsNotification"),
        (
            r"^v2\.analytics\.queues\.[^.]+\.activity$",
            "V2QueueObservationObservationCountNotification",
        ),
    )
)


def model_of(topic: str) -> str:
    """The SDK model class name of a topic's event body."""
    for pattern, model in TOPIC_MODELS:
        if pattern.match(topic):
            return model
    raise KeyError(topic)


def main() -> None:
    """Deserialise every recorded frame once (after a short warm-up) and report the rate."""
    sdk: Any = importlib.import_module("PureCloudPlatformClientV2")
    client = sdk.ApiClient()
    deserialize = client._ApiClient__deserialize
    frames = load_frames()
    models: dict[str, str] = {}
    for text in frames[:500]:  # warm-up: imports of the model modules, regex caches
        message = json.loads(text)
        topic = message["topicName"]
        deserialize(message["eventBody"], models.setdefault(topic, model_of(topic)))
    started = time.perf_counter()
    for text in frames:
        message = json.loads(text)
        topic = message["topicName"]
        model = models.get(topic) or models.setdefault(topic, model_of(topic))
        deserialize(message["eventBody"], model)
    seconds = time.perf_counter() - started
    result = {"frames": len(frames), "seconds": seconds, "events_per_s": len(frames) / seconds}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
