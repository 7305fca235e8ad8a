"""The tray icon: its controller and the icons it draws."""
