"""The settings file: its value types, JSON codec, migrations and the file itself."""
