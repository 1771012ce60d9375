#!/usr/bin/env bash
# promtool, Prometheus's checker (`promtool check metrics`, `check config`, `check rules`), taken
# out of Debian's `prometheus` package without installing the package: nothing is configured or
# started (the server itself, from the same package, is deploy/local/prometheus.sh's).
#
#   deploy/local/promtool.sh install   put promtool in .local/bin (idempotent)
#   deploy/local/promtool.sh path      print its path; exit 1 when not installed
#
# Environment (defaults in brackets):
#   PROMTOOL_DIR  where promtool goes [<repo>/.local/bin]
set -euo pipefail

HERALD_COMPONENT=promtool
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMTOOL_DIR="$(abspath "${PROMTOOL_DIR:-$HERALD_REPO_ROOT/.local/bin}")"
PROMTOOL="$PROMTOOL_DIR/promtool"

usage() {
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

installed() {
	[[ -x "$PROMTOOL" ]] && "$PROMTOOL" --version >/dev/null 2>&1
}

do_install() {
	mkdir -p "$PROMTOOL_DIR"
	# Serialise concurrent installs (parallel test sessions) on one lock file.
	exec 9>"$PROMTOOL_DIR/.promtool.lock"
	flock 9
	if installed; then
		log "$("$PROMTOOL" --version 2>&1 | head -n 1) already in $PROMTOOL_DIR"
		return 0
	fi
	local work
	work="$(mktemp -d "$PROMTOOL_DIR/.promtool-work.XXXXXX")"
	# shellcheck disable=SC2064 # expand $work now
	trap "rm -rf '$work'" EXIT
	extract_from_prometheus_deb "$work" ./usr/bin/promtool
	mv "$work/usr/bin/promtool" "$PROMTOOL"
	installed || die "the extracted promtool does not run"
	log "installed $("$PROMTOOL" --version 2>&1 | head -n 1) in $PROMTOOL_DIR"
}

case "${1:-}" in
install) do_install ;;
path)
	installed || exit 1
	printf '%s\n' "$PROMTOOL"
	;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
