"""The headless command line: listen."""
