"""Desktop platform features: single instance, autostart and wake/network detection."""
