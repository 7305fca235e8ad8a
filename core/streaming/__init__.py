"""The Notification Service stream: sans-I/O frames, one shard per channel, topic planning, typed events."""
