#!/usr/bin/env bash
# Herald's image, herald:<version> (the version in pyproject.toml), built from the project's
# Dockerfile on a Docker engine: DOCKER_HOST's, or the machine's own when one answers, otherwise
# the engine of deploy/local/docker.sh (started if needed, and left running for `docker run`;
# `deploy/local/docker.sh stop` stops it). The base is the Dockerfile's PYTHON_IMAGE,
# python:3.11-slim-bookworm, when the engine has it or can pull it; otherwise the stand-in made
# from Debian by deploy/local/python-base.sh.
#
#   deploy/local/image.sh build    build (cached layers make a rebuild take seconds)
#   deploy/local/image.sh name     print the image's name
#
# `build` prints DOCKER_HOST=… and HERALD_IMAGE=herald:<version>.
#
# Environment (defaults in brackets):
#   HERALD_IMAGE         the image built [herald:<version>]
#   PYTHON_IMAGE         the base; skips the choice above [python:3.11-slim-bookworm, else the stand-in]
#   PULL_TIMEOUT         seconds a pull of the public base may take [60]
set -euo pipefail

HERALD_COMPONENT=image
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$HERALD_REPO_ROOT/pyproject.toml" | head -n 1)"
HERALD_IMAGE="${HERALD_IMAGE:-herald:$VERSION}"
PUBLIC_PYTHON_IMAGE="$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$HERALD_REPO_ROOT/Dockerfile")"
PULL_TIMEOUT="${PULL_TIMEOUT:-60}"
# Debian's client, of the engine's version, when present (any newer one negotiates down too).
DOCKER_CLIENT="$([[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker)"
docker() { "$DOCKER_CLIENT" "$@"; }

# The engine: DOCKER_HOST as given, else the machine's own when one answers, else
# deploy/local/docker.sh's (started when it is not).
engine() {
	if [[ -n "${DOCKER_HOST:-}" ]]; then
		return 0
	fi
	if docker version >/dev/null 2>&1; then
		DOCKER_HOST="$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || echo unix:///var/run/docker.sock)"
		export DOCKER_HOST
		return 0
	fi
	local output
	output="$(bash "$HERALD_REPO_ROOT/deploy/local/docker.sh" start)" || die "no Docker engine"
	DOCKER_HOST="$(sed -n 's/^DOCKER_HOST=//p' <<<"$output")"
	export DOCKER_HOST
}

base_image() {
	if [[ -n "${PYTHON_IMAGE:-}" ]]; then
		printf '%s\n' "$PYTHON_IMAGE"
	elif docker image inspect "$PUBLIC_PYTHON_IMAGE" >/dev/null 2>&1 ||
		timeout "$PULL_TIMEOUT" "$DOCKER_CLIENT" pull -q "$PUBLIC_PYTHON_IMAGE" >/dev/null 2>&1; then
		printf '%s\n' "$PUBLIC_PYTHON_IMAGE"
	else
		log "$PUBLIC_PYTHON_IMAGE cannot be pulled: using a base made from Debian" >&2
		bash "$HERALD_REPO_ROOT/deploy/local/python-base.sh" build | sed -n 's/^PYTHON_IMAGE=//p'
	fi
}

do_build() {
	engine
	local base started
	base="$(base_image)"
	[[ -n "$base" ]] || die "no base image"
	started="$(now_ms)"
	log "building $HERALD_IMAGE on $base ..."
	# --network host: the engine makes no bridge, so a build step reaches the registries
	# through the host's network.
	docker build --network host --build-arg "PYTHON_IMAGE=$base" -t "$HERALD_IMAGE" \
		"$HERALD_REPO_ROOT" || die "docker build failed"
	log "built $HERALD_IMAGE after $(elapsed "$started")s: $(docker image inspect "$HERALD_IMAGE" \
		--format '{{.Size}} bytes, {{len .RootFS.Layers}} layers')"
	printf 'DOCKER_HOST=%s\n' "$DOCKER_HOST"
	printf 'HERALD_IMAGE=%s\n' "$HERALD_IMAGE"
}

case "${1:-}" in
build) do_build ;;
name) printf '%s\n' "$HERALD_IMAGE" ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
