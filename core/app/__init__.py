"""The Qt-free application: session bootstrap, the one pipeline, logging and diagnostics."""
