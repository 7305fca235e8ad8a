"""What the org looks like now: the store (per media group) and the REST re-sync after a gap."""
