#!/usr/bin/env bash
# The desktop test bed behind `make test` (and so `.ci/run`): the tested order of steps from
# /work/shared/ci-recipe.md, section 10.
#
#   1. .ci/bootstrap.sh test   Debian packages + .venv (idempotent)
#   2. private temp dir with a fresh HOME and XDG_* dirs; a trap that stops everything started here
#   3. dbus-daemon (private session bus; started BEFORE DISPLAY exists, gotcha G5)
#   4. Xvfb on a display it picks itself (-displayfd), 5. trayer (XEmbed tray host)
#   6. gnome-keyring-daemon, unlocked, secrets only, 7. tests/testbed/notify_recorder.py
#   8. ruff check, ruff format --check, mypy, then pytest (in the background + `wait`, gotcha G2)
#
# Usage: make test [ARGS="pytest args"]   or   bash tests/testbed/run.sh [pytest args]
# Env:   ARTIFACTS=dir      where screenshots/logs go (default: ./artifacts; service logs and the
#                           notification log land in $ARTIFACTS/testbed/, wiped at each run)
#        TESTBED_LINT=0     skip ruff and mypy (quicker inner loop; CI always runs them)
#
# What the tests get: CI_DESKTOP=1 (a missing service FAILS desktop tests instead of skipping),
# DISPLAY (our Xvfb, whatever the caller had), DBUS_SESSION_BUS_ADDRESS (our bus),
# NOTIFY_RECORDER_LOG, ARTIFACTS, and QT_QPA_PLATFORM=offscreen. Offscreen is the default so GUI
# unit tests never depend on X; tests that need the real tray run their Qt part in a subprocess
# with QT_QPA_PLATFORM=xcb (see tests/desktop/). One process cannot switch QPA platforms once a
# QApplication exists, and pytest-qt creates one per session, so xcb has to be per subprocess.
#
# Exit status: pytest's; 5 (no tests collected) is reported as a failure; if pytest passed but
# ruff or mypy failed, 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=$REPO/.venv/bin/python
PYTEST_TIMEOUT=1500 # outer bound for the whole pytest run (per-test bound: pytest-timeout)

log() { printf '[testbed] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

bash .ci/bootstrap.sh test

# Nothing of a developer's desktop session may leak in: own X server, bus, keyring, Qt theme.
# A caller's DBUS_SESSION_BUS_ADDRESS would also let tests talk to the real notification daemon.
unset DISPLAY WAYLAND_DISPLAY XAUTHORITY DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL \
  SSH_AUTH_SOCK PYTHON_KEYRING_BACKEND QT_QPA_PLATFORMTHEME QT_STYLE_OVERRIDE XDG_CURRENT_DESKTOP \
  XDG_SESSION_TYPE XDG_SESSION_DESKTOP DESKTOP_SESSION SESSION_MANAGER QT_QPA_PLATFORM

# ---------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup
# ---------------------------------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/genesys-testbed.XXXXXX")
PIDS=()    # services, in start order; stopped in reverse
NAMES=()
FG_PID=""  # the lint/pytest step currently being waited for
# Every process this run starts inherits this marker, so the cleanup can find anything that
# escaped (e.g. a dbus-daemon autolaunched by libdbus, gotcha G6, or a test's orphan).
export GENESYS_TESTBED_RUN=$RUN

# alive PID: true while PID runs and is not a zombie (kill -0 succeeds on unreaped zombies).
alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# stop_pid PID NAME: SIGTERM, up to 5 s for it to go, then SIGKILL; reaps it if it is our child.
stop_pid() {
  local pid=$1 name=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name (pid $pid) still running 5 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Processes that carry this run's marker but were not started by this script directly.
strays() {
  local d pid e envs
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    { mapfile -d '' -t envs <"$d/environ"; } 2>/dev/null || continue
    for e in "${envs[@]}"; do
      if [ "$e" = "GENESYS_TESTBED_RUN=$RUN" ]; then
        alive "$pid" && printf '%s\n' "$pid"
        break
      fi
    done
  done
}

cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$FG_PID" ] && stop_pid "$FG_PID" "current step"
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[i]}" "${NAMES[i]}"
  done
  for pid in $(strays); do
    log "stray process left by the run, stopping it: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)(pid $pid)"
    stop_pid "$pid" "stray"
  done
  rm -rf "$RUN"
  ((${#PIDS[@]})) && log "test bed stopped"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

started() { # started PID NAME
  PIDS+=("$1")
  NAMES+=("$2")
}

# wait_until SECONDS PID NAME LOGFILE CMD...: poll CMD every 50 ms until it succeeds; fail early
# with the service's log if the service died, or after SECONDS.
wait_until() {
  local secs=$1 pid=$2 name=$3 logfile=$4
  shift 4
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ! alive "$pid"; then
      log "$name (pid $pid) exited before it was ready; its log ($logfile):"
      tail -n 30 "$logfile" >&2 || true
      die "$name did not start"
    fi
    if ((SECONDS >= deadline)); then
      log "$name not ready after ${secs} s; its log ($logfile):"
      tail -n 30 "$logfile" >&2 || true
      die "$name did not become ready"
    fi
    sleep 0.05
  done
}

# ---------------------------------------------------------------------------------------------
# Fresh per-run environment
# ---------------------------------------------------------------------------------------------
export ARTIFACTS=${ARTIFACTS:-$REPO/artifacts}
LOGS=$ARTIFACTS/testbed
rm -rf "$LOGS"
mkdir -p "$LOGS"
export HOME=$RUN/home XDG_RUNTIME_DIR=$RUN/runtime XDG_DATA_HOME=$RUN/data \
  XDG_CONFIG_HOME=$RUN/config XDG_CACHE_HOME=$RUN/cache XDG_STATE_HOME=$RUN/state
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" \
  "$XDG_STATE_HOME"
chmod 700 "$XDG_RUNTIME_DIR"

# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------
# 1. Session bus. DISPLAY is not set yet: anything the bus activates (a gcr keyring prompt)
#    must fail fast rather than open a dialog on Xvfb and block forever (G5).
dbus-daemon --session --nofork --nopidfile --address="unix:path=$RUN/bus" --print-address=3 \
  3>"$RUN/bus.address" >"$LOGS/dbus-daemon.log" 2>&1 &
started $! dbus-daemon
wait_until 10 $! dbus-daemon "$LOGS/dbus-daemon.log" test -s "$RUN/bus.address"
DBUS_SESSION_BUS_ADDRESS=$(<"$RUN/bus.address")
export DBUS_SESSION_BUS_ADDRESS

# 2. X server on a free display number of its own choosing (G11).
Xvfb -displayfd 4 -screen 0 1280x800x24 -nolisten tcp -noreset \
  4>"$RUN/xvfb.display" >"$LOGS/xvfb.log" 2>&1 &
started $! Xvfb
wait_until 15 $! Xvfb "$LOGS/xvfb.log" test -s "$RUN/xvfb.display"
DISPLAY=:$(<"$RUN/xvfb.display")
export DISPLAY

# 3. Tray host. Qt's xcb QSystemTrayIcon docks into it through XEmbed.
trayer --edge top --align right --widthtype pixel --width 200 --heighttype pixel --height 32 \
  --transparent false >"$LOGS/trayer.log" 2>&1 &
started $! trayer
trayer_mapped() { [[ $(xwininfo -root -children 2>/dev/null) == *'"trayer")'* ]]; }
wait_until 10 $! trayer "$LOGS/trayer.log" trayer_mapped

# 4. Secret Service: unlocked (password on stdin) so nothing ever prompts. Fresh XDG_DATA_HOME,
#    so the login keyring is created anew with this password. No DISPLAY for it either (G5).
printf '%s' testbed-password |
  env -u DISPLAY gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$LOGS/gnome-keyring.log" 2>&1 &
started $! gnome-keyring-daemon
# NameHasOwner never activates a service, so this cannot start a second, locked daemon.
has_owner() {
  [[ $(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null) == *true* ]]
}
wait_until 15 $! gnome-keyring-daemon "$LOGS/gnome-keyring.log" has_owner org.freedesktop.secrets

# 5. Notification recorder (org.freedesktop.Notifications; no StatusNotifierWatcher, so Qt
#    keeps the XEmbed tray in trayer).
export NOTIFY_RECORDER_LOG=$LOGS/notifications.jsonl
"$PY" tests/testbed/notify_recorder.py --log "$NOTIFY_RECORDER_LOG" --ready "$RUN/notify.ready" \
  >"$LOGS/notify_recorder.log" 2>&1 &
started $! notify_recorder
wait_until 15 $! notify_recorder "$LOGS/notify_recorder.log" test -s "$RUN/notify.ready"

log "services up (logs in ${LOGS#"$REPO"/}/):"
printf '[testbed]   %-21s pid %-7s %s\n' \
  dbus-daemon "${PIDS[0]}" "$DBUS_SESSION_BUS_ADDRESS" \
  Xvfb "${PIDS[1]}" "DISPLAY=$DISPLAY 1280x800x24" \
  trayer "${PIDS[2]}" "XEmbed tray host" \
  gnome-keyring-daemon "${PIDS[3]}" "org.freedesktop.secrets (unlocked)" \
  notify_recorder "${PIDS[4]}" "org.freedesktop.Notifications -> ${NOTIFY_RECORDER_LOG#"$REPO"/}" >&2

# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
export CI_DESKTOP=1 QT_QPA_PLATFORM=offscreen

# run_step CMD...: run in the background and `wait`, so a SIGTERM/SIGINT to this script runs the
# cleanup at once instead of after the step (G2).
run_step() {
  local rc=0
  "$@" &
  FG_PID=$!
  wait "$FG_PID" || rc=$?
  FG_PID=""
  return "$rc"
}

failed=()
if [ "${TESTBED_LINT:-1}" != 0 ]; then
  log "ruff check ."
  run_step "$PY" -m ruff check . || failed+=("ruff check")
  log "ruff format --check ."
  run_step "$PY" -m ruff format --check . || failed+=("ruff format")
  log "mypy"
  run_step "$PY" -m mypy || failed+=(mypy)
fi

log "pytest $*"
rc=0
run_step timeout -k 10 "$PYTEST_TIMEOUT" "$PY" -m pytest "$@" || rc=$?
case $rc in
  0) ;;
  5) log "FAILED: pytest collected no tests (exit 5); a test run that runs nothing is a failure" ;;
  124 | 137) log "FAILED: pytest did not finish within ${PYTEST_TIMEOUT} s and was killed" ;;
  *) log "FAILED: pytest exited with $rc" ;;
esac
if ((${#failed[@]})); then
  printf -v msg '%s, ' "${failed[@]}"
  log "FAILED: ${msg%, } (see their output above)"
  ((rc)) || rc=1
fi
((rc)) || log "all checks passed"
exit "$rc"
