#!/usr/bin/env bash
# The base image for Herald's image where the public python:3.11-slim-bookworm cannot be pulled
# (no Docker Hub): Debian bookworm made with debootstrap from the Debian mirror apt already
# uses, imported into the engine, with Debian's Python 3.11 on top
# (deploy/local/python-base.Dockerfile).
#
#   deploy/local/python-base.sh install   Debian's debootstrap (idempotent)
#   deploy/local/python-base.sh build     make the base image unless the engine has it (idempotent)
#   deploy/local/python-base.sh status    exit 0 when the engine has the base image
#   deploy/local/python-base.sh remove    remove the base image and the Debian one under it
#
# `build` and `status` print PYTHON_IMAGE=<name>. DOCKER_HOST must address a running engine
# (deploy/local/docker.sh start prints it).
#
# Environment (defaults in brackets):
#   PYTHON_BASE_IMAGE   the image made [herald-python-base:3.11-bookworm]
#   DEBIAN_IMAGE        the imported Debian [herald-debian:bookworm-minbase]
#   DEBIAN_MIRROR       where debootstrap downloads [the first deb.debian.org-like URI apt uses]
#   HERALD_LOCAL_DIR    state root; the rootfs is made in a temporary folder under it [<repo>/.local]
set -euo pipefail

HERALD_COMPONENT=python-base
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERALD_LOCAL_DIR="$(abspath "${HERALD_LOCAL_DIR:-$HERALD_REPO_ROOT/.local}")"
PYTHON_BASE_IMAGE="${PYTHON_BASE_IMAGE:-herald-python-base:3.11-bookworm}"
DEBIAN_IMAGE="${DEBIAN_IMAGE:-herald-debian:bookworm-minbase}"
DOCKERFILE="$HERALD_REPO_ROOT/deploy/local/python-base.Dockerfile"
LOCAL_CA_DIR=/usr/local/share/ca-certificates

# Debian's client, of the engine's version, when present (any newer one negotiates down too).
DOCKER_CLIENT="$([[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker)"
docker() {
	[[ -n "${DOCKER_HOST:-}" ]] || die "DOCKER_HOST is not set: start an engine with deploy/local/docker.sh start"
	"$DOCKER_CLIENT" "$@"
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror apt is configured with (deb822 sources or sources.list), so debootstrap
# downloads from where this machine may download.
debian_mirror() {
	if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
		printf '%s\n' "$DEBIAN_MIRROR"
		return 0
	fi
	local found
	found="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')" || true
	printf '%s\n' "${found:-http://deb.debian.org/debian}"
}

do_install() {
	if command -v debootstrap >/dev/null 2>&1; then
		log "debootstrap found"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install debootstrap by hand"
	mkdir -p "$HERALD_LOCAL_DIR"
	exec 9>"$HERALD_LOCAL_DIR/.debootstrap-install.lock"
	flock 9
	command -v debootstrap >/dev/null 2>&1 && return 0
	if ! apt-cache show debootstrap >/dev/null 2>&1; then
		apt-get update -qq >/dev/null || die "apt-get update failed"
	fi
	log "installing debootstrap (Debian package) ..."
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
		>/dev/null || die "apt-get install debootstrap failed"
}

import_debian() {
	if has_image "$DEBIAN_IMAGE"; then
		log "$DEBIAN_IMAGE already in the engine"
		return 0
	fi
	command -v debootstrap >/dev/null 2>&1 || do_install
	local work mirror started
	mirror="$(debian_mirror)"
	started="$(now_ms)"
	mkdir -p "$HERALD_LOCAL_DIR"
	work="$(mktemp -d "$HERALD_LOCAL_DIR/.debootstrap.XXXXXX")"
	# shellcheck disable=SC2064 # the folder is known now
	trap "rm -rf '$work'" EXIT
	log "debootstrap --variant=minbase bookworm from $mirror ..."
	if ! debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
		tail -n 30 "$work/debootstrap.log" >&2
		die "debootstrap failed"
	fi
	tar -C "$work/rootfs" -c . | docker import - "$DEBIAN_IMAGE" >/dev/null
	rm -rf "$work"
	trap - EXIT
	log "imported $DEBIAN_IMAGE after $(elapsed "$started")s"
}

do_build() {
	if has_image "$PYTHON_BASE_IMAGE"; then
		log "$PYTHON_BASE_IMAGE already in the engine"
		printf 'PYTHON_IMAGE=%s\n' "$PYTHON_BASE_IMAGE"
		return 0
	fi
	import_debian
	local context started
	started="$(now_ms)"
	context="$(mktemp -d "$HERALD_LOCAL_DIR/.python-base.XXXXXX")"
	mkdir -p "$context/ca-certificates"
	find "$LOCAL_CA_DIR" -name '*.crt' -exec cp {} "$context/ca-certificates/" \; 2>/dev/null || true
	log "building $PYTHON_BASE_IMAGE on $DEBIAN_IMAGE ($(find "$context/ca-certificates" -name '*.crt' | wc -l) local CA certificates) ..."
	if ! docker build --quiet --network host --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
		-t "$PYTHON_BASE_IMAGE" -f "$DOCKERFILE" "$context" >"$context/build.log" 2>&1; then
		tail -n 30 "$context/build.log" >&2
		rm -rf "$context"
		die "building $PYTHON_BASE_IMAGE failed"
	fi
	rm -rf "$context"
	log "built $PYTHON_BASE_IMAGE after $(elapsed "$started")s"
	printf 'PYTHON_IMAGE=%s\n' "$PYTHON_BASE_IMAGE"
}

do_status() {
	if has_image "$PYTHON_BASE_IMAGE"; then
		log "$PYTHON_BASE_IMAGE in the engine"
		printf 'PYTHON_IMAGE=%s\n' "$PYTHON_BASE_IMAGE"
		return 0
	fi
	log "$PYTHON_BASE_IMAGE not built"
	return 1
}

do_remove() {
	docker image rm "$PYTHON_BASE_IMAGE" "$DEBIAN_IMAGE" >/dev/null 2>&1 || true
	log "removed $PYTHON_BASE_IMAGE and $DEBIAN_IMAGE"
}

case "${1:-}" in
install) do_install ;;
build) do_build ;;
status) do_status ;;
remove) do_remove ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
