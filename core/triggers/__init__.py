"""Process Automation triggers: the org's triggers, their words, a local evaluator, live runs."""
