"""Desktop notifications: the desktop's own (desktop-notifier), then the tray balloon, then
the window."""
