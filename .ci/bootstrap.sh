#!/usr/bin/env bash
# Idempotent set-up shared by `make run` and `make test`.
#   bootstrap.sh venv   - make sure .venv exists with the project and its test extra installed
#   bootstrap.sh run    - venv + the Debian libraries Qt needs to open a window
#   bootstrap.sh test   - venv + everything the desktop test bed needs (Xvfb, trayer, D-Bus, keyring)
set -euo pipefail
cd "$(dirname "$0")/.."

QT_RUNTIME_PKGS=(libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0
  libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1)
TESTBED_PKGS=(xvfb xauth dbus-daemon dbus-bin dbus-x11 trayer gnome-keyring x11-utils chromium)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      log "missing Debian packages and not root: ${missing[*]}"; log "install them with apt-get, then retry"; return 1
    fi
  else SUDO=; fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then ensure_apt python3-venv; fi
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
  fi
  local stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    log "installing the project and its test extra into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
}

case "${1:-venv}" in
  venv) ensure_venv ;;
  run) ensure_apt "${QT_RUNTIME_PKGS[@]}" || log "continuing without them; the window may not open"; ensure_venv ;;
  test) ensure_apt "${QT_RUNTIME_PKGS[@]}" "${TESTBED_PKGS[@]}"; ensure_venv ;;
  *) log "usage: bootstrap.sh venv|run|test"; exit 2 ;;
esac
