"""Desktop notifications: D-Bus first, then the tray balloon, then the window."""
