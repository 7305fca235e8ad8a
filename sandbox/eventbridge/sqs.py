"""A loopback SQS: moto's server in a thread on 127.0.0.1, one standard queue and its DLQ.

shared/genesys-eventbridge-triggers.md 4: moto's server mode speaks the SQS JSON protocol that
botocore >= 1.34 uses, long polls, visibility timeouts and redrive. Its EventBridge cannot carry
partner buses, so the sandbox writes the envelopes into SQS itself. moto keeps its state per
process, so every start creates queues under a fresh name. moto and botocore are imported only
when EventBridge is switched on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from typing import Any

logger = logging.getLogger(__name__)

DUMMY_KEY = "sandbox"  # moto accepts any credentials; these never leave the machine
RETENTION_S = 1_209_600  # 14 days, the reference queue's (3.1)
MAX_RECEIVE_COUNT = 5  # then the redrive policy moves a message to the DLQ


def sqs_client(endpoint_url: str, region: str) -> Any:
    """A botocore SQS client for the loopback server, deaf to the user's AWS settings."""
    import botocore.session
    from botocore.config import Config
    from botocore.configprovider import ConstantProvider

    session = botocore.session.Session()
    # The user's AWS_PROFILE, config and credentials files are for the app, not for moto.
    session.get_component("config_store").set_config_provider("profile", ConstantProvider(None))
    session.set_config_variable("config_file", os.devnull)
    session.set_config_variable("credentials_file", os.devnull)
    return session.create_client(
        "sqs",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


class LoopbackSqs:
    """moto's threaded server and the sandbox's queue; :meth:`start` / :meth:`stop` block."""

    def __init__(self, queue_name: str, region: str, host: str = "127.0.0.1") -> None:
        self.queue_name = f"{queue_name}-{uuid.uuid4().hex[:8]}"
        self.region = region
        self.host = host
        self.endpoint_url = ""
        self.queue_url = ""
        self.dlq_url = ""
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.client: Any = None

    def _serve(self, port: int) -> int:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox-sqs", daemon=True
        )
        self._thread.start()
        return int(self._server.server_address[1])

    def start(self) -> str:
        """Listen on a free loopback port (the same one on a restart) and create the queues.

        Returns the queue URL; a restart finds moto's queues (and their messages) as they were.
        """
        self.port = self._serve(self.port)
        self.endpoint_url = f"http://{self.host}:{self.port}"
        self.client = sqs_client(self.endpoint_url, self.region)
        dlq = self.client.create_queue(
            QueueName=f"{self.queue_name}-dlq",
            Attributes={"MessageRetentionPeriod": str(RETENTION_S)},
        )
        self.dlq_url = dlq["QueueUrl"]
        dlq_arn = self.client.get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        queue = self.client.create_queue(
            QueueName=self.queue_name,
            Attributes={
                "MessageRetentionPeriod": str(RETENTION_S),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )
        self.queue_url = queue["QueueUrl"]
        logger.info("loopback SQS on %s, queue %s", self.endpoint_url, self.queue_url)
        return self.queue_url

    def send_batch(self, bodies: list[str]) -> list[int]:
        """``SendMessageBatch`` of at most 10 bodies; returns the indexes that failed."""
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return [int(entry["Id"]) for entry in answer.get("Failed", [])]

    def send_raw(self, body: str) -> None:
        """One arbitrary message (a poison message, for fault injection)."""
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=body)

    @property
    def up(self) -> bool:
        """Whether the server listens."""
        return self._server is not None

    def go_down(self) -> None:
        """Stop listening (an SQS outage); moto keeps the queues and their messages."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def come_back(self) -> None:
        """Listen again on the same port after :meth:`go_down`."""
        if self._server is None and self.port:
            self._serve(self.port)

    def stop(self) -> None:
        """Delete the queues, stop the server and close its socket (moto's stop leaves it open).

        moto keeps every queue of every server in one process-wide backend: a stopped sandbox's
        messages would otherwise stay in memory for the rest of the process (a test run).
        """
        self.come_back()
        if self.client is not None:
            for url in (self.queue_url, self.dlq_url):
                if url:
                    with contextlib.suppress(Exception):
                        self.client.delete_queue(QueueUrl=url)
        self.go_down()
        if self.client is not None:
            self.client.close()
            self.client = None
