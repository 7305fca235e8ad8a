"""A stopped sandbox leaves no queue behind in moto's process-wide backend.

moto keeps every queue of every in-process server in one backend; a test run starts many
sandboxes, and a stopped one's messages must not weigh on the ones after it.
"""

from __future__ import annotations

from sandbox.eventbridge.sqs import LoopbackSqs


def test_stop_deletes_the_queues_and_their_messages() -> None:
    first = LoopbackSqs("cleanup-test", "us-east-1")
    first.start()
    first.send_batch(["one", "two"])
    names = (first.queue_name, f"{first.queue_name}-dlq")
    first.stop()
    second = LoopbackSqs("cleanup-test", "us-east-1")
    second.start()
    try:
        listed = second.client.list_queues(QueueNamePrefix="cleanup-test").get("QueueUrls", [])
        left = [url for url in listed if url.rsplit("/", 1)[-1] in names]
        assert left == []
        assert any(url.endswith(second.queue_name) for url in listed)
    finally:
        second.stop()
