#!/usr/bin/env bash
# Local Prometheus server, from Debian's `prometheus` package (the one promtool comes from) taken
# out without installing the package: no system service is configured or started. It scrapes
# the local stack with a configuration generated from deploy/prometheus/prometheus.yml
# (`herald-devstack up --observability` writes it; the tests write their own).
#
#   deploy/local/prometheus.sh install   prometheus and promtool into .local/bin, its web pages
#                                        beside them (idempotent)
#   deploy/local/prometheus.sh start     start in the background, wait until /-/ready answers
#   deploy/local/prometheus.sh stop      SIGTERM, wait, SIGKILL after PROMETHEUS_STOP_TIMEOUT
#   deploy/local/prometheus.sh status    exit 0 when running
#
# Environment (defaults in brackets):
#   HERALD_LOCAL_DIR            state root [<repo>/.local]
#   PROMETHEUS_BIN_DIR          where the binaries go [<repo>/.local/bin]
#   PROMETHEUS_PORT             port on 127.0.0.1 [9090]
#   PROMETHEUS_CONFIG           configuration file [$HERALD_LOCAL_DIR/prometheus/prometheus.yml]
#   PROMETHEUS_DATA_DIR         pid file, and the TSDB in data/ [$HERALD_LOCAL_DIR/prometheus-data]
#   PROMETHEUS_LOG_FILE         server output [$HERALD_LOCAL_DIR/logs/prometheus.log]
#   PROMETHEUS_RETENTION        how long samples are kept [2d]
#   PROMETHEUS_START_TIMEOUT    seconds to wait for readiness [60]
#   PROMETHEUS_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL [30]
#   HERALD_OWNER_PID            if set, a watchdog stops the server when that process exits
set -euo pipefail

HERALD_COMPONENT=prometheus
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERALD_LOCAL_DIR="$(abspath "${HERALD_LOCAL_DIR:-$HERALD_REPO_ROOT/.local}")"
PROMETHEUS_BIN_DIR="$(abspath "${PROMETHEUS_BIN_DIR:-$HERALD_REPO_ROOT/.local/bin}")"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
PROMETHEUS_CONFIG="$(abspath "${PROMETHEUS_CONFIG:-$HERALD_LOCAL_DIR/prometheus/prometheus.yml}")"
PROMETHEUS_DATA_DIR="$(abspath "${PROMETHEUS_DATA_DIR:-$HERALD_LOCAL_DIR/prometheus-data}")"
PROMETHEUS_LOG_FILE="$(abspath "${PROMETHEUS_LOG_FILE:-$HERALD_LOCAL_DIR/logs/prometheus.log}")"
PROMETHEUS_RETENTION="${PROMETHEUS_RETENTION:-2d}"
PROMETHEUS_START_TIMEOUT="${PROMETHEUS_START_TIMEOUT:-60}"
PROMETHEUS_STOP_TIMEOUT="${PROMETHEUS_STOP_TIMEOUT:-30}"

HOST=127.0.0.1
PROMETHEUS="$PROMETHEUS_BIN_DIR/prometheus"
PROMTOOL="$PROMETHEUS_BIN_DIR/promtool"
# The classic web UI's templates and styles (Debian builds the UI from them; its JavaScript
# libraries are symlinks into Debian's libjs-* packages, absent here: the graph page needs them,
# the targets, alerts and rules pages and the HTTP API do not).
WEB_DIR="$PROMETHEUS_BIN_DIR/prometheus-web"
PID_FILE="$PROMETHEUS_DATA_DIR/prometheus.pid"
ADDR_FILE="$PROMETHEUS_DATA_DIR/prometheus.addr"
STORAGE_DIR="$PROMETHEUS_DATA_DIR/data"
# Identifies our server in `ps`: the storage path is unique per data dir.
MARKER="--storage.tsdb.path=$STORAGE_DIR"

for var in PROMETHEUS_PORT PROMETHEUS_START_TIMEOUT PROMETHEUS_STOP_TIMEOUT; do
	[[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a number, got '${!var}'"
done

url() { printf 'http://%s\n' "$1"; }

installed() {
	[[ -x "$PROMETHEUS" && -x "$PROMTOOL" && -d "$WEB_DIR/templates" ]] &&
		"$PROMETHEUS" --version >/dev/null 2>&1
}

do_install() {
	mkdir -p "$PROMETHEUS_BIN_DIR"
	# The lock promtool.sh takes too: both unpack the same package into the same folder.
	exec 9>"$PROMETHEUS_BIN_DIR/.promtool.lock"
	flock 9
	if installed; then
		log "$("$PROMETHEUS" --version 2>&1 | head -n 1) already in $PROMETHEUS_BIN_DIR"
		return 0
	fi
	local started work
	started="$(now_ms)"
	work="$(mktemp -d "$PROMETHEUS_BIN_DIR/.prometheus-work.XXXXXX")"
	# shellcheck disable=SC2064 # expand $work now
	trap "rm -rf '$work'" EXIT
	extract_from_prometheus_deb "$work" ./usr/bin/prometheus ./usr/bin/promtool ./usr/share/prometheus/web
	rm -rf "$WEB_DIR"
	mv "$work/usr/share/prometheus/web" "$WEB_DIR"
	[[ -x "$PROMTOOL" ]] || mv "$work/usr/bin/promtool" "$PROMTOOL"
	mv "$work/usr/bin/prometheus" "$PROMETHEUS"
	installed || die "the extracted prometheus does not run"
	log "installed $("$PROMETHEUS" --version 2>&1 | head -n 1) in $PROMETHEUS_BIN_DIR after $(elapsed "$started")s"
}

# Ready = /-/ready answers 200 and the process that answers is ours (its pid is still alive
# with our marker, and nothing else held the port when we started). Gives up when it exits.
wait_ready() {
	local pid="$1" deadline=$((SECONDS + PROMETHEUS_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		alive "$pid" || return 2
		if (exec 3<>"/dev/tcp/$HOST/$PROMETHEUS_PORT") 2>/dev/null &&
			[[ "$(curl_ready)" == 200 ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

curl_ready() {
	local python
	python="$(probe_python)"
	if command -v curl >/dev/null 2>&1; then
		curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$PROMETHEUS_PORT/-/ready" || true
	elif [[ -n "$python" ]]; then
		"$python" -c 'import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except Exception:
    print(0)' "http://$HOST:$PROMETHEUS_PORT/-/ready"
	fi
}

print_ready() {
	log "url: $(url "$1")"
	printf 'PROMETHEUS_URL=%s\n' "$(url "$1")"
}

do_start() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		local addr
		addr="$(cat "$ADDR_FILE" 2>/dev/null || echo "$HOST:$PROMETHEUS_PORT")"
		log "already running (pid $pid, data $PROMETHEUS_DATA_DIR); reloading $PROMETHEUS_CONFIG"
		# SIGHUP: read the configuration and the rule files again (a new stack's ports).
		kill -HUP "$pid"
		print_ready "$addr"
		return 0
	fi
	rm -f "$PID_FILE"
	installed || do_install
	[[ -f "$PROMETHEUS_CONFIG" ]] || die "no configuration at $PROMETHEUS_CONFIG (herald-devstack up --observability writes one)"
	local checked
	checked="$("$PROMTOOL" check config "$PROMETHEUS_CONFIG" 2>&1)" || {
		printf '%s\n' "$checked" >&2
		die "promtool check config $PROMETHEUS_CONFIG failed"
	}
	if port_in_use "$HOST" "$PROMETHEUS_PORT"; then
		die "port $HOST:$PROMETHEUS_PORT is already in use by another process; choose another with PROMETHEUS_PORT"
	fi

	local started
	started="$(now_ms)"
	mkdir -p "$STORAGE_DIR"
	rotate_log "$PROMETHEUS_LOG_FILE"
	(cd "$PROMETHEUS_DATA_DIR" && exec nohup setsid "$PROMETHEUS" \
		--config.file="$PROMETHEUS_CONFIG" "$MARKER" \
		--storage.tsdb.retention.time="$PROMETHEUS_RETENTION" \
		--web.listen-address="$HOST:$PROMETHEUS_PORT" \
		--web.local-assets="$WEB_DIR/" \
		</dev/null >>"$PROMETHEUS_LOG_FILE" 2>&1) &
	pid=$!
	printf '%s\n' "$pid" >"$PID_FILE"
	printf '%s\n' "$HOST:$PROMETHEUS_PORT" >"$ADDR_FILE"
	start_watchdog "$pid" "$PROMETHEUS_STOP_TIMEOUT"
	log "starting Prometheus (pid $pid, config $PROMETHEUS_CONFIG, log $PROMETHEUS_LOG_FILE)"

	if ! wait_ready "$pid"; then
		tail -n 30 "$PROMETHEUS_LOG_FILE" >&2 || true
		if alive "$pid"; then
			stop_pid "$pid" prometheus "$PROMETHEUS_STOP_TIMEOUT"
			rm -f "$PID_FILE"
			die "not ready within ${PROMETHEUS_START_TIMEOUT}s; stopped it (full log: $PROMETHEUS_LOG_FILE)"
		fi
		rm -f "$PID_FILE"
		die "the server exited during start-up (full log: $PROMETHEUS_LOG_FILE)"
	fi
	log "ready after $(elapsed "$started")s"
	print_ready "$HOST:$PROMETHEUS_PORT"
}

do_stop() {
	local pid
	if ! pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		rm -f "$PID_FILE"
		log "not running (data $PROMETHEUS_DATA_DIR)"
		return 0
	fi
	log "stopping (pid $pid) ..."
	local started
	started="$(now_ms)"
	stop_pid "$pid" prometheus "$PROMETHEUS_STOP_TIMEOUT"
	rm -f "$PID_FILE"
	log "stopped after $(elapsed "$started")s"
}

do_status() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		log "running (pid $pid) at $(url "$(cat "$ADDR_FILE" 2>/dev/null || echo "$HOST:$PROMETHEUS_PORT")"), data $PROMETHEUS_DATA_DIR"
		return 0
	fi
	log "not running (data $PROMETHEUS_DATA_DIR)"
	return 1
}

run_subcommand "$@"
