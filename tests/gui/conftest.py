"""GUI tests run their async parts on qasync's loop, as the app does (ci-recipe section 3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Callable[[], Any]]:
    """Async tests in tests/gui get a qasync QEventLoop over the suite's QApplication."""
    import qasync

    def factory() -> Any:
        app = QApplication.instance() or QApplication([])
        return qasync.QEventLoop(app)

    return {"qasync": factory}


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[QSettings]:
    """A QSettings file of the test's own, so nothing leaks between tests or into $HOME."""
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    yield store
    store.sync()
