"""Installed like an app: the built wheel alone runs ``genesys-tray --demo``, outside the checkout.

The wheel is built from a copy of the sources the wheel is made of (so no ``build/`` or egg-info
lands in the shared checkout) and installed with ``--no-deps`` into a fresh venv. Installing
PySide6 and the rest again would take minutes, so the venv reaches the dependencies through one
.pth line naming ``.venv``'s site-packages, added after the install. A .pth line only appends a
folder: ``.venv``'s own .pth files, among them the editable install's finder that maps ``core``,
``gui`` and ``sandbox`` to the checkout, are not run. The test checks that it really is the
wheel's copy that runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import uuid
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "main.py", "core", "gui", "sandbox", "resources")
DEADLINE_S = 45.0

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class Installed:
    """The fresh venv holding the wheel, and a folder outside the checkout to run in."""

    venv: Path
    wheel: Path
    run_dir: Path

    @property
    def bin(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def env(self) -> dict[str, str]:
        """A clean environment: no PYTHONPATH, no checkout on PATH, per-user folders in tmp."""
        home = self.run_dir / "home"
        env = {
            "PATH": os.pathsep.join([str(self.bin), "/usr/bin", "/bin"]),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_RUNTIME_DIR": str(self.run_dir / "runtime"),
            "GENESYS_TRAY_LOG_DIR": str(home / "log"),
            "GENESYS_TRAY_INSTANCE": f"wheel-test-{uuid.uuid4().hex}",
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
        }
        (self.run_dir / "runtime").mkdir(mode=0o700, exist_ok=True)
        return env


def _run(args: list[str], cwd: Path, timeout: float) -> None:
    proc = subprocess.run(
        args, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel, install it alone in a fresh venv, then let it see .venv's dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "screenshots")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=skip)
        else:
            shutil.copy2(REPO / name, src / name)
    dist = root / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "-w", str(dist), str(src)], root, 60)
    (wheel,) = dist.glob("genesys_tray-*.whl")
    fresh = root / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    done = Installed(fresh, wheel, root / "run")
    done.run_dir.mkdir()
    _run(
        [*pip, "--python", str(done.python), "install", "--no-deps", "--no-index", str(wheel)],
        root,
        60,
    )
    site = subprocess.run(
        [str(done.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    deps = sysconfig.get_path("purelib")  # .venv's site-packages (this interpreter's)
    (Path(site) / "_test_dependencies.pth").write_text(deps + "\n", encoding="utf-8")
    return done


def test_the_wheel_holds_the_app_and_its_resources(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"core", "gui", "sandbox", "main.py"} <= tops
    assert not {"tests", "benchmarks", "resources"} & tops
    data = "genesys_tray-0.1.0.data/data/share/genesys-tray/resources/"
    assert f"{data}genesys-tray.desktop" in names
    svgs = {p.name for p in (REPO / "resources" / "icons").glob("*.svg")}
    assert svgs and {f"{data}icons/{svg}" for svg in svgs} <= set(names)
    for script in ("genesys-tray", "genesys-tray-gui"):
        assert (installed.bin / script).is_file()


def test_the_installed_copy_is_what_runs(installed: Installed) -> None:
    """Modules, icons and the autostart entry all come from the venv, none from the checkout."""
    probe = """
import json, os
import core, gui, main, sandbox
from gui.platform.autostart import APP_ICON, Autostart
from gui.tray.icons import resource_path
entry = Autostart(platform="linux", environ=os.environ)
entry.set_enabled(True)
print(json.dumps({
    "modules": [m.__file__ for m in (core, gui, main, sandbox)],
    "icon": str(resource_path("icons/live.svg")),
    "app_icon": str(APP_ICON),
    "entry": entry.entry_path().read_text(encoding="utf-8"),
}))
"""
    proc = subprocess.run(
        [str(installed.python), "-c", probe],
        check=False,
        cwd=installed.run_dir,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    venv_root = installed.venv.resolve()
    for path in [*seen["modules"], seen["icon"], seen["app_icon"]]:
        assert Path(path).resolve().is_relative_to(venv_root), path
        assert not Path(path).resolve().is_relative_to(REPO), path
    assert Path(seen["icon"]).is_file()
    assert f"Exec={installed.bin / 'genesys-tray'} --minimized" in seen["entry"]
    assert f"Icon={seen['app_icon']}" in seen["entry"]


async def _line(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            raw = await stream.readline()
            assert raw, f"exited before saying {needle!r}:\n" + "".join(seen[-40:])
            seen.append(raw.decode(errors="replace"))
            if needle in seen[-1]:
                return


async def test_genesys_tray_demo_runs_headless_from_the_wheel(installed: Installed) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(installed.bin / "genesys-tray"),
        "--demo",
        cwd=installed.run_dir,
        env=installed.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        await _line(proc.stdout, "Sandbox Genesys Cloud org:", seen)
        await _line(proc.stdout, "engine: live", seen)
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stdout.read(), DEADLINE_S)).decode(errors="replace")
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    said = "".join(seen) + rest
    assert code == 0, said[-3000:]
    assert "Traceback" not in said
    assert "not found" not in said  # a missing icon or template would say so
