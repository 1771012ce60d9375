# shellcheck shell=bash
# Helpers shared by the deploy/local/ scripts (sourced, not run).

HERALD_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '%s: %s\n' "$HERALD_COMPONENT" "$*"; }
warn() { printf '%s: warning: %s\n' "$HERALD_COMPONENT" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$HERALD_COMPONENT" "$*" >&2
	exit 1
}

# Absolute form of a path that may not exist yet.
abspath() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}

# The command line of a live process, NULs as spaces; empty when it is gone.
proc_cmdline() {
	local pid="$1"
	if [[ -r "/proc/$pid/cmdline" ]]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true
	else
		ps -p "$pid" -o args= 2>/dev/null || true
	fi
}

# True while PID runs. A zombie (exited, not yet reaped: servers are detached, so init
# reaps them, sometimes late) counts as gone.
alive() {
	local pid="$1" stat
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r "/proc/$pid/stat" ]]; then
		stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
		stat="${stat##*) }"
		[[ "${stat%% *}" != Z ]] || return 1
	fi
	return 0
}

# True when PID is alive and its command line contains MARKER (guards against a stale
# pid file whose pid the system has since given to an unrelated process).
pid_matches() {
	local pid="$1" marker="$2"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	alive "$pid" || return 1
	[[ "$(proc_cmdline "$pid")" == *"$marker"* ]]
}

# Pid recorded in PIDFILE if that process still runs with MARKER in its command line.
running_pid() {
	local pidfile="$1" marker="$2" pid
	[[ -f "$pidfile" ]] || return 1
	pid="$(tr -dc '0-9' <"$pidfile")"
	pid_matches "$pid" "$marker" || return 1
	printf '%s\n' "$pid"
}

# True when something accepts TCP connections on HOST:PORT.
port_in_use() {
	local host="$1" port="$2"
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# Terminate PID: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
	local pid="$1" name="$2" timeout="$3" waited=0
	kill -TERM "$pid" 2>/dev/null || return 0
	while alive "$pid"; do
		if ((waited >= timeout * 10)); then
			warn "$name (pid $pid) still running after ${timeout}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
			break
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
}

# With HERALD_OWNER_PID set (the test fixtures set it), start a detached watchdog that
# terminates SERVER_PID once the owner process is gone, so a killed test run leaves no
# server behind. It exits by itself as soon as the server has stopped.
start_watchdog() {
	local server_pid="$1" timeout="$2" owner="${HERALD_OWNER_PID:-}"
	[[ -n "$owner" ]] || return 0
	[[ "$owner" =~ ^[0-9]+$ ]] || die "HERALD_OWNER_PID must be a pid, got '$owner'"
	# shellcheck disable=SC2016 # the script is expanded by the inner bash
	nohup setsid bash -c '
		'"$(declare -f alive)"'
		owner=$1 server=$2 timeout=$3
		while alive "$owner" && alive "$server"; do sleep 1; done
		alive "$server" || exit 0
		kill -TERM "$server" 2>/dev/null || exit 0
		for ((i = 0; i < timeout * 10; i++)); do
			alive "$server" || exit 0
			sleep 0.1
		done
		kill -KILL "$server" 2>/dev/null || true
	' herald-watchdog "$owner" "$server_pid" "$timeout" </dev/null >/dev/null 2>&1 &
}

# Keep the previous run's log as FILE.1 and start FILE afresh.
rotate_log() {
	local file="$1"
	mkdir -p "$(dirname "$file")"
	if [[ -s "$file" ]]; then
		mv -f "$file" "$file.1"
	fi
	: >"$file"
}

# Python for readiness probes: the workspace venv when present, else python3 on PATH.
probe_python() {
	if [[ -x "$HERALD_REPO_ROOT/.venv/bin/python" ]]; then
		printf '%s\n' "$HERALD_REPO_ROOT/.venv/bin/python"
	elif command -v python3 >/dev/null 2>&1; then
		command -v python3
	fi
}

now_ms() { date +%s%3N; }

# Seconds since START_MS (from now_ms), one decimal.
elapsed() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%d\n' $((ms / 1000)) $((ms % 1000 / 100))
}

# The script's own header comment, from line 2 to `set -euo`, is its usage text.
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# Dispatch a script's subcommand to its do_install / do_start / do_stop / do_status.
run_subcommand() {
	case "${1:-}" in
	install) do_install ;;
	start) do_start ;;
	stop) do_stop ;;
	status) do_status ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

# Take MEMBERS (paths inside the package, e.g. ./usr/bin/promtool) out of Debian's `prometheus`
# package into WORK_DIR, without installing the package: `apt-get download` fetches the file
# only, so nothing is configured and no service is started. The caller holds the lock.
extract_from_prometheus_deb() {
	local work="$1"
	shift
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Debian's prometheus package's $* by hand"
	if ! apt-cache show prometheus >/dev/null 2>&1; then
		log "apt-get update (no package list knows prometheus yet) ..."
		apt-get update -qq >/dev/null || die "apt-get update failed"
	fi
	if ! (cd "$work" && apt-get download -qq prometheus >/dev/null 2>"$work/download.log"); then
		cat "$work/download.log" >&2
		die "apt-get download prometheus failed"
	fi
	dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" "$@"
	rm -f "$work"/prometheus_*.deb
}
