"""Process Automation ("Event") triggers of the sandbox org (issue 18; fact sheet section 5).

Rooms: ``workflows`` (the Architect workflow catalogue and ``GET /api/v2/flows``), ``jsonpath``
(the JSONPath subset criteria may use), ``criteria`` (validation and evaluation of the 12
operators, and ``/test`` results), ``store`` (the triggers, versions and cursor paging),
``engine`` (events in, invocations out on ``v2.flows.instances.flow.{id}``, TTL, delay and the
rate limits), ``api`` (``/api/v2/processautomation/triggers...``) and ``control``
(``/sandbox/triggers/...``). This file stays empty so the rooms import each other without a cycle.
"""
