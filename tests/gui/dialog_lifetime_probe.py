"""Run in a subprocess by test_dialog_lifetime.py: the app's dialogs survive a cycle collection
on a worker thread after the app shut down (exit 0), instead of crashing Qt (a signal)."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


async def scenario() -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=1.0
    )
    with tempfile.TemporaryDirectory() as tmp:
        options = GuiOptions(
            settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        )
        app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
        # Each dialog opened, closed and opened again (the first one left behind), then shut.
        for _ in range(2):
            app.open_settings().close()
            app.open_watch().close()
            app.alerts.open_filters().close()
        await app.shutdown()
        await engine.aclose()
        del app
    # Whatever is left in reference cycles is freed here, on a thread that is not Qt's.
    collector = threading.Thread(target=gc.collect)
    collector.start()
    collector.join()
    for _ in range(5):
        QApplication.processEvents()
        await asyncio.sleep(0.01)
    return 0


def main() -> int:
    """Exit 0 when nothing crashed."""
    from gui.options import create_qapp, run_qasync

    qapp = create_qapp([])
    return run_qasync(qapp, scenario)


if __name__ == "__main__":
    sys.exit(main())
