#!/usr/bin/env bash
# Offline validation of Herald's Kubernetes manifests: kubeconform, and the JSON schemas it checks
# them against (Kubernetes' own kinds, KEDA's and the Prometheus Operator's custom resources).
#
#   deploy/local/k8s-validate.sh install        build kubeconform and generate the schemas
#                                               (pinned below; idempotent, cached)
#   deploy/local/k8s-validate.sh validate [F..] validate manifests (files, or stdin: `-` or none),
#                                               e.g. kubectl kustomize k8s/overlays/dev | … validate
#   deploy/local/k8s-validate.sh status         exit 0 when installed
#
# Where things come from (the Go module proxy, nothing else; checksums verified by go):
#   kubeconform   github.com/yannh/kubeconform, built with `go install`
#   Kubernetes    api/openapi-spec/swagger.json of the k8s.io/kubernetes module
#   KEDA          config/crd/bases/*.yaml of github.com/kedacore/keda/v2
#   Prometheus    example/prometheus-operator-crd/*.yaml of
#   Operator      github.com/prometheus-operator/prometheus-operator
# deploy/local/k8s_schemas.py turns the OpenAPI document and the CRDs into strict, standalone
# JSON schemas (a misspelt field is an error); the module sources are deleted afterwards.
#
# Environment (defaults in brackets):
#   K8S_VALIDATE_DIR  install directory, bin/ and schemas/ [<repo>/.local/k8s-validate]
#   GO                Go 1.22+ [go]
#   PYTHON            Python with PyYAML [<repo>/.venv/bin/python]
set -euo pipefail

HERALD_COMPONENT=k8s-validate
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFORM_VERSION=v0.7.0
KUBERNETES_VERSION=v1.34.4
KEDA_VERSION=v2.21.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0

K8S_VALIDATE_DIR="$(abspath "${K8S_VALIDATE_DIR:-$HERALD_REPO_ROOT/.local/k8s-validate}")"
GO="${GO:-go}"
PYTHON="${PYTHON:-$HERALD_REPO_ROOT/.venv/bin/python}"
CONVERTER="$HERALD_REPO_ROOT/deploy/local/k8s_schemas.py"
KUBECONFORM="$K8S_VALIDATE_DIR/bin/kubeconform"
SCHEMAS="$K8S_VALIDATE_DIR/schemas"
STAMP="$K8S_VALIDATE_DIR/installed"

# What an install is made of; a change to any part (a version, the converter) reinstalls.
wanted() {
	printf 'kubeconform %s\nkubernetes %s\nkeda %s\nprometheus-operator %s\nconverter %s\n' \
		"$KUBECONFORM_VERSION" "$KUBERNETES_VERSION" "$KEDA_VERSION" \
		"$PROMETHEUS_OPERATOR_VERSION" "$(sha256sum "$CONVERTER" | cut -d' ' -f1)"
}

installed() {
	[[ -x "$KUBECONFORM" && -d "$SCHEMAS" && -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(wanted)" ]]
}

do_install() {
	mkdir -p "$K8S_VALIDATE_DIR"
	# Serialise concurrent installs (parallel test sessions) on one lock file.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$K8S_VALIDATE_DIR/install.lock"
		flock 9
		install_locked
		exec 9>&-
	else
		install_locked
	fi
}

install_locked() {
	if installed; then
		log "kubeconform $KUBECONFORM_VERSION and schemas (Kubernetes $KUBERNETES_VERSION, KEDA $KEDA_VERSION, Prometheus Operator $PROMETHEUS_OPERATOR_VERSION) already in $K8S_VALIDATE_DIR"
		return 0
	fi
	command -v "$GO" >/dev/null 2>&1 || die "Go ('$GO') not found: install Go 1.22+ or set GO"
	[[ -x "$PYTHON" ]] || die "no Python at $PYTHON: run 'make deps' first, or set PYTHON"
	"$PYTHON" -c 'import yaml' 2>/dev/null || die "$PYTHON has no PyYAML: run 'make deps'"

	local started work log_file
	started="$(now_ms)"
	work="$K8S_VALIDATE_DIR/work.$$"
	log_file="$K8S_VALIDATE_DIR/install.log"
	rm -rf "$work"
	mkdir -p "$work/gomod" "$work/bin"
	# A module cache of our own, writable so that it can be deleted; no toolchain switching.
	local -a go_env=(GOMODCACHE="$work/gomod" GOFLAGS=-modcacherw GOTOOLCHAIN=local GOBIN="$work/bin")

	log "building kubeconform $KUBECONFORM_VERSION ..."
	if ! env "${go_env[@]}" "$GO" install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >"$log_file" 2>&1; then
		tail -n 20 "$log_file" >&2
		rm -rf "$work"
		die "go install failed (needs the Go module proxy); full output in $log_file"
	fi

	log "fetching the Kubernetes, KEDA and Prometheus Operator modules ..."
	if ! (cd "$work" && env "${go_env[@]}" "$GO" mod download \
		"k8s.io/kubernetes@$KUBERNETES_VERSION" \
		"github.com/kedacore/keda/v2@$KEDA_VERSION" \
		"github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION") >>"$log_file" 2>&1; then
		tail -n 20 "$log_file" >&2
		rm -rf "$work"
		die "go mod download failed (needs the Go module proxy); full output in $log_file"
	fi
	local kubernetes="$work/gomod/k8s.io/kubernetes@$KUBERNETES_VERSION"
	local keda="$work/gomod/github.com/kedacore/keda/v2@$KEDA_VERSION"
	local operator="$work/gomod/github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
	local -a crds=()
	local crd
	for crd in "$keda"/config/crd/bases/*.yaml "$operator"/example/prometheus-operator-crd/*.yaml; do
		crds+=(--crd "$crd")
	done

	log "generating the JSON schemas ..."
	if ! "$PYTHON" "$CONVERTER" --swagger "$kubernetes/api/openapi-spec/swagger.json" \
		"${crds[@]}" --out "$work/schemas" >>"$log_file" 2>&1; then
		tail -n 20 "$log_file" >&2
		rm -rf "$work"
		die "schema generation failed; full output in $log_file"
	fi

	rm -rf "$SCHEMAS" "$K8S_VALIDATE_DIR/bin"
	mv "$work/schemas" "$SCHEMAS"
	mv "$work/bin" "$K8S_VALIDATE_DIR/bin"
	rm -rf "$work"
	wanted >"$STAMP"
	log "installed kubeconform and $(find "$SCHEMAS" -name '*.json' | wc -l) schemas in $((($(now_ms) - started) / 1000))s"
}

do_validate() {
	installed || die "not installed: run 'deploy/local/k8s-validate.sh install' (or make install)"
	[[ $# -gt 0 ]] || set -- -
	"$KUBECONFORM" -strict -summary -output text \
		-schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
}

do_status() {
	if installed; then
		printf 'KUBECONFORM=%s\nSCHEMAS=%s\n' "$KUBECONFORM" "$SCHEMAS"
	else
		log "not installed"
		return 1
	fi
}

case "${1:-}" in
install) do_install ;;
validate)
	shift
	do_validate "$@"
	;;
status) do_status ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
