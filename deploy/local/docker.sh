#!/usr/bin/env bash
# A Docker engine of Herald's own, for building and running its image on a machine without one
# (CI, a development machine): Debian's docker.io, started with flags that leave the host's
# network alone. No bridge, no iptables or NAT rules, no IP forwarding: containers run with
# --network host only, and no Docker network may be created. Its socket, images and state live
# under DOCKER_STATE_DIR, never at /var/run/docker.sock, so nothing else mistakes it for the
# machine's engine.
#
#   deploy/local/docker.sh install   Debian's docker.io (and nftables, to read the ruleset) (idempotent)
#   deploy/local/docker.sh start     start dockerd in the background, wait until it answers
#   deploy/local/docker.sh stop      SIGTERM (dockerd stops its containers), SIGKILL after DOCKER_STOP_TIMEOUT
#   deploy/local/docker.sh status    exit 0 when running
#
# `start` and `status` print DOCKER_HOST=unix://… for clients (docker, docker-compose, the tests).
#
# Environment (defaults in brackets):
#   HERALD_LOCAL_DIR       state root [<repo>/.local]
#   DOCKER_STATE_DIR       data root, exec root, socket, pid file, log [$HERALD_LOCAL_DIR/docker]
#   DOCKERD                the engine [/usr/sbin/dockerd]
#   DOCKER_START_TIMEOUT   seconds to wait for the API [60]
#   DOCKER_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL [60]
#   HERALD_OWNER_PID       if set, a watchdog stops the engine when that process exits
set -euo pipefail

HERALD_COMPONENT=docker
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERALD_LOCAL_DIR="$(abspath "${HERALD_LOCAL_DIR:-$HERALD_REPO_ROOT/.local}")"
DOCKER_STATE_DIR="$(abspath "${DOCKER_STATE_DIR:-$HERALD_LOCAL_DIR/docker}")"
DOCKERD="${DOCKERD:-/usr/sbin/dockerd}"
DOCKER_START_TIMEOUT="${DOCKER_START_TIMEOUT:-60}"
DOCKER_STOP_TIMEOUT="${DOCKER_STOP_TIMEOUT:-60}"

SOCKET="$DOCKER_STATE_DIR/docker.sock"
PID_FILE="$DOCKER_STATE_DIR/dockerd.pid"
LOG_FILE="$DOCKER_STATE_DIR/dockerd.log"
DATA_ROOT="$DOCKER_STATE_DIR/data"
EXEC_ROOT="$DOCKER_STATE_DIR/exec"
# Identifies our engine in `ps`: its socket path is unique per state dir.
MARKER="unix://$SOCKET"

for var in DOCKER_START_TIMEOUT DOCKER_STOP_TIMEOUT; do
	[[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a number, got '${!var}'"
done
# A unix socket path holds at most 107 bytes; containerd's lives deepest, under the exec root.
((${#EXEC_ROOT} + 40 < 108)) || die "DOCKER_STATE_DIR is too long for unix sockets: $DOCKER_STATE_DIR"

installed() { [[ -x "$DOCKERD" ]] && command -v nft >/dev/null 2>&1; }

do_install() {
	if installed; then
		log "$("$DOCKERD" --version) found"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Docker's engine (dockerd) and set DOCKERD"
	mkdir -p "$HERALD_LOCAL_DIR"
	# Serialise concurrent installs (parallel test sessions) on one lock file.
	exec 9>"$HERALD_LOCAL_DIR/.docker-install.lock"
	flock 9
	installed && return 0
	if ! apt-cache show docker.io >/dev/null 2>&1; then
		log "apt-get update (no package list knows docker.io yet) ..."
		apt-get update -qq >/dev/null || die "apt-get update failed"
	fi
	log "installing docker.io and nftables (Debian packages) ..."
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io nftables \
		>/dev/null || die "apt-get install docker.io nftables failed"
	installed || die "$DOCKERD missing after installing docker.io"
	log "installed $("$DOCKERD" --version)"
}

print_ready() {
	printf 'DOCKER_HOST=%s\n' "unix://$SOCKET"
}

answers() { DOCKER_HOST="unix://$SOCKET" "$DOCKER_CLIENT" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Debian's client, of the engine's version, when present (any newer one negotiates down too).
DOCKER_CLIENT="$([[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker)"

do_start() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		log "already running (pid $pid, state $DOCKER_STATE_DIR)"
		print_ready
		return 0
	fi
	installed || do_install
	rm -f "$PID_FILE" "$SOCKET"
	mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
	rotate_log "$LOG_FILE"
	local started
	started="$(now_ms)"
	# --bridge=none --iptables=false --ip-masq=false --ip-forward=false: the engine creates no
	# link, no route and no firewall rule, and leaves ip_forward as it is.
	(exec nohup setsid "$DOCKERD" --iptables=false --ip6tables=false --ip-masq=false \
		--ip-forward=false --bridge=none --storage-driver overlay2 \
		--data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$EXEC_ROOT/dockerd.pid" \
		-H "unix://$SOCKET" </dev/null >>"$LOG_FILE" 2>&1) &
	pid=$!
	printf '%s\n' "$pid" >"$PID_FILE"
	start_watchdog "$pid" "$DOCKER_STOP_TIMEOUT"
	log "starting dockerd (pid $pid, state $DOCKER_STATE_DIR, log $LOG_FILE)"
	local deadline=$(($(now_ms) + DOCKER_START_TIMEOUT * 1000))
	until answers; do
		if ! alive "$pid"; then
			tail -n 30 "$LOG_FILE" >&2 || true
			rm -f "$PID_FILE"
			die "dockerd exited during start-up (full log: $LOG_FILE)"
		fi
		if (($(now_ms) > deadline)); then
			tail -n 30 "$LOG_FILE" >&2 || true
			stop_pid "$pid" dockerd "$DOCKER_STOP_TIMEOUT"
			rm -f "$PID_FILE"
			die "no answer within ${DOCKER_START_TIMEOUT}s; stopped it (full log: $LOG_FILE)"
		fi
		sleep 0.1
	done
	log "ready after $(elapsed "$started")s"
	print_ready
}

# Mount points under the state dir, deepest first. dockerd leaves one behind when it stops
# (exec/netns/default, a bind mount of the host's network namespace).
mounts_left() {
	awk -v root="$DOCKER_STATE_DIR/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

unmount_left() {
	local mount
	while read -r mount; do
		umount "$mount" 2>/dev/null || warn "could not unmount $mount"
	done < <(mounts_left)
}

do_stop() {
	local pid
	if ! pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		rm -f "$PID_FILE"
		unmount_left
		log "not running (state $DOCKER_STATE_DIR)"
		return 0
	fi
	log "stopping (pid $pid) ..."
	local started
	started="$(now_ms)"
	stop_pid "$pid" dockerd "$DOCKER_STOP_TIMEOUT"
	rm -f "$PID_FILE"
	unmount_left
	log "stopped after $(elapsed "$started")s"
}

do_status() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		log "running (pid $pid), state $DOCKER_STATE_DIR"
		print_ready
		return 0
	fi
	log "not running (state $DOCKER_STATE_DIR)"
	return 1
}

run_subcommand "$@"
