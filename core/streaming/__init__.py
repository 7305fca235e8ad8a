"""The Notification Service stream: frames, one shard per channel, topic plans, typed events."""
