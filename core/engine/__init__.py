"""The engine facade: shards, re-syncs and tokens behind one service, its records and selection."""
