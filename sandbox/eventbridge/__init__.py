"""The sandbox as a Genesys Cloud EventBridge source (issue 15).

Rooms: ``sqs`` (moto's SQS on loopback), ``envelope`` (the EventBridge event as it lands in SQS),
``integrations`` and ``integration_api`` (the Genesys-side ``amazon-eventbridge-source``
integrations and their REST surface), ``delivery`` (the delayed, at-least-once, sometimes
reordered delivery with its hold fault), ``source`` (the glue the server plugs in) and ``control``
(``/sandbox/eventbridge/...``). This file stays empty so the rooms import each other without a
cycle through their package.
"""
