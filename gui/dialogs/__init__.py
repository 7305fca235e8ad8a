"""The app's dialogs: welcome, what to watch, filters & alerts, journal, settings."""
