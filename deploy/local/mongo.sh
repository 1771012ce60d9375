#!/usr/bin/env bash
# Local MongoDB-wire server: SecantusDB (PyPI package `secantusdb`, dev dependency group),
# used where no real MongoDB can be installed.
#
#   deploy/local/mongo.sh install   check that the secantusd-py server is installed (uv sync)
#   deploy/local/mongo.sh start     start in the background, wait until a ping answers
#   deploy/local/mongo.sh stop      SIGTERM, wait, SIGKILL after MONGO_STOP_TIMEOUT
#   deploy/local/mongo.sh status    exit 0 when running
#
# Environment (defaults in brackets):
#   HERALD_LOCAL_DIR       state root [<repo>/.local]
#   MONGO_PORT             port on 127.0.0.1 [27017]
#   MONGO_DATA_DIR         pid file, and the WiredTiger files in db/ [$HERALD_LOCAL_DIR/mongo-data]
#   MONGO_LOG_FILE         server output [$HERALD_LOCAL_DIR/logs/mongo.log]
#   MONGO_LOG_LEVEL        DEBUG | INFO | WARNING | ERROR [WARNING]
#   MONGO_ARGS             extra secantusd-py arguments, e.g. --config FILE []
#   SECANTUSD              server launcher [<repo>/.venv/bin/secantusd-py]
#   MONGO_START_TIMEOUT    seconds to wait for readiness [60]
#   MONGO_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL [30]
#   HERALD_OWNER_PID       if set, a watchdog stops the server when that process exits
set -euo pipefail

HERALD_COMPONENT=mongo
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERALD_LOCAL_DIR="$(abspath "${HERALD_LOCAL_DIR:-$HERALD_REPO_ROOT/.local}")"
MONGO_PORT="${MONGO_PORT:-27017}"
MONGO_DATA_DIR="$(abspath "${MONGO_DATA_DIR:-$HERALD_LOCAL_DIR/mongo-data}")"
MONGO_LOG_FILE="$(abspath "${MONGO_LOG_FILE:-$HERALD_LOCAL_DIR/logs/mongo.log}")"
MONGO_LOG_LEVEL="${MONGO_LOG_LEVEL:-WARNING}"
MONGO_ARGS="${MONGO_ARGS:-}"
SECANTUSD="${SECANTUSD:-$HERALD_REPO_ROOT/.venv/bin/secantusd-py}"
MONGO_START_TIMEOUT="${MONGO_START_TIMEOUT:-60}"
MONGO_STOP_TIMEOUT="${MONGO_STOP_TIMEOUT:-30}"

HOST=127.0.0.1
PID_FILE="$MONGO_DATA_DIR/mongo.pid"
ADDR_FILE="$MONGO_DATA_DIR/mongo.addr"
STORAGE_DIR="$MONGO_DATA_DIR/db"
# Identifies our server in `ps`: the storage path is unique per data dir.
MARKER="--storage-path $STORAGE_DIR"

for var in MONGO_PORT MONGO_START_TIMEOUT MONGO_STOP_TIMEOUT; do
	[[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a number, got '${!var}'"
done

# retryWrites=false: SecantusDB records every retryable write and prunes that record with a
# sort on each write, so with retryable writes on, each write gets slower as a run goes on
# (measured: an update by _id went from 1.5 ms to 10-20 ms within ~30,000 writes). Herald's
# writes are compare-and-set and its consumers redeliver, so it does not need driver retries.
url() { printf 'mongodb://%s/?directConnection=true&retryWrites=false\n' "$1"; }

# The interpreter in the launcher's shebang: the venv python, which has pymongo.
server_python() {
	local shebang
	shebang="$(head -n 1 "$SECANTUSD")"
	shebang="${shebang#\#!}"
	shebang="${shebang%% *}"
	if [[ -x "$shebang" ]]; then
		printf '%s\n' "$shebang"
	else
		probe_python
	fi
}

do_install() {
	if [[ -x "$SECANTUSD" ]]; then
		log "SecantusDB server found: $SECANTUSD"
		return 0
	fi
	die "$SECANTUSD not found. It comes with the 'secantusdb' package in the dev dependency group: run 'uv sync' (or 'make' targets that do) in $HERALD_REPO_ROOT, or set SECANTUSD to a secantusd-py launcher"
}

# Ready = a pymongo ping answers and serverStatus reports OUR pid (so a foreign server
# already on the port cannot pass for ours). Gives up when the process exits.
wait_ready() {
	local pid="$1" python
	python="$(server_python)"
	[[ -n "$python" ]] || die "no Python with pymongo found to probe the server"
	"$python" - "$HOST" "$MONGO_PORT" "$pid" "$MONGO_START_TIMEOUT" <<'EOF'
import os
import sys
import time

from pymongo import MongoClient
from pymongo.errors import PyMongoError

host, port, pid, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + timeout
last = "no answer yet"
while True:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited too
            exited = stat.read().rpartition(")")[2].split()[0] == "Z"
    except ProcessLookupError:
        exited = True
    except (OSError, IndexError):
        exited = False
    if exited:
        print(f"process {pid} exited", file=sys.stderr)
        sys.exit(2)
    try:
        with MongoClient(
            host, port, directConnection=True, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        ) as client:
            client.admin.command("ping")
            server_pid = client.admin.command("serverStatus").get("pid")
        if server_pid in (None, pid):
            sys.exit(0)
        last = f"port {port} is answered by another process (pid {server_pid})"
    except PyMongoError as exc:
        last = f"{type(exc).__name__}: {exc}"
    if time.monotonic() >= deadline:
        print(f"no ready server on {host}:{port}: {last}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
EOF
}

print_ready() {
	log "url: $(url "$1")"
	printf 'MONGODB_URL=%s\n' "$(url "$1")"
}

do_start() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		local addr
		addr="$(cat "$ADDR_FILE" 2>/dev/null || echo "$HOST:$MONGO_PORT")"
		log "already running (pid $pid, data $MONGO_DATA_DIR)"
		[[ "$addr" == "$HOST:$MONGO_PORT" ]] ||
			warn "it listens on $addr, not on MONGO_PORT=$MONGO_PORT; stop it first to change ports"
		print_ready "$addr"
		return 0
	fi
	rm -f "$PID_FILE"
	if [[ ! -x "$SECANTUSD" ]]; then do_install; fi
	if port_in_use "$HOST" "$MONGO_PORT"; then
		die "port $HOST:$MONGO_PORT is already in use by another process; choose another with MONGO_PORT"
	fi

	local started
	started="$(now_ms)"
	mkdir -p "$STORAGE_DIR"
	rotate_log "$MONGO_LOG_FILE"
	# Run from the data dir so secantusd's ./secantusd.toml auto-discovery never picks up
	# a file from wherever the caller happens to be.
	# shellcheck disable=SC2086 # MONGO_ARGS is a list of arguments
	(cd "$MONGO_DATA_DIR" && exec nohup setsid "$SECANTUSD" --host "$HOST" --port "$MONGO_PORT" \
		--storage-path "$STORAGE_DIR" --log-level "$MONGO_LOG_LEVEL" $MONGO_ARGS \
		</dev/null >>"$MONGO_LOG_FILE" 2>&1) &
	pid=$!
	printf '%s\n' "$pid" >"$PID_FILE"
	printf '%s\n' "$HOST:$MONGO_PORT" >"$ADDR_FILE"
	start_watchdog "$pid" "$MONGO_STOP_TIMEOUT"
	log "starting SecantusDB (pid $pid, data $MONGO_DATA_DIR, log $MONGO_LOG_FILE)"

	if ! wait_ready "$pid"; then
		tail -n 30 "$MONGO_LOG_FILE" >&2 || true
		if alive "$pid"; then
			stop_pid "$pid" mongo "$MONGO_STOP_TIMEOUT"
			rm -f "$PID_FILE"
			die "not ready within ${MONGO_START_TIMEOUT}s; stopped it (full log: $MONGO_LOG_FILE)"
		fi
		rm -f "$PID_FILE"
		die "the server exited during start-up (full log: $MONGO_LOG_FILE)"
	fi
	log "ready after $(elapsed "$started")s"
	print_ready "$HOST:$MONGO_PORT"
}

do_stop() {
	local pid
	if ! pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		rm -f "$PID_FILE"
		log "not running (data $MONGO_DATA_DIR)"
		return 0
	fi
	log "stopping (pid $pid) ..."
	local started
	started="$(now_ms)"
	stop_pid "$pid" mongo "$MONGO_STOP_TIMEOUT"
	rm -f "$PID_FILE"
	log "stopped after $(elapsed "$started")s"
}

do_status() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		log "running (pid $pid) at $(url "$(cat "$ADDR_FILE" 2>/dev/null || echo "$HOST:$MONGO_PORT")"), data $MONGO_DATA_DIR"
		return 0
	fi
	log "not running (data $MONGO_DATA_DIR)"
	return 1
}

run_subcommand "$@"
