#!/usr/bin/env bash
# The real WhatsApp gateways for Herald's contract tests (tests/real_gateways): WAHA Core and
# Evolution API, built from their upstream sources, run on loopback only.
#
#   real-gateways.sh install        socat, PostgreSQL (Debian packages, when missing) and both
#                                   gateways built into .local/real-gateways (kept once built)
#   real-gateways.sh check          exit 0 when the layer can run, else print why and exit 3
#   real-gateways.sh serve waha|evolution RUN_DIR [API_KEY]
#                                   run one in its own network namespace (unshare --net): it
#                                   listens on RUN_DIR/api.sock, reaches Herald's webhook
#                                   receiver through RUN_DIR/hook.sock as http://127.0.0.1:4000
#                                   (Evolution: PostgreSQL through RUN_DIR/pg.sock); foreground
#
# The sources (tarballs, vendored npm packages, build.sh, db.sh) come from
# $HERALD_GATEWAY_SOURCES: waha/ and evolution/ (default: the shared/ beside the checkout, else
# /work/shared, where the development machines keep them). Offline, Baileys
# resolves WhatsApp's host names every second or two; in the namespace it reaches nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${HERALD_GATEWAY_SOURCES:-}" ]; then
  sources=$HERALD_GATEWAY_SOURCES
elif [ -x "$top/../shared/waha/build.sh" ]; then
  sources=$(cd "$top/../shared" && pwd)
else
  sources=/work/shared
fi
dest=$top/.local/real-gateways
hook_port=4000
api_port=3000
pg_port=5432

need_node() {
  command -v node >/dev/null || { echo "node not found (needs node >= 20; Debian 12's is 18: use NodeSource's)"; return 1; }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || { echo "node $(node --version) is too old (needs >= 20)"; return 1; }
}

need_registry() {
  [ -f "$dest/waha/dist/main.js" ] && [ -f "$dest/evolution-api/dist/main.js" ] && return 0
  npm ping >/dev/null 2>&1 || { echo "the npm registry cannot be reached (npm ping)"; return 1; }
}

need_sources() {
  [ -f "$dest/waha/dist/main.js" ] && [ -f "$dest/evolution-api/dist/main.js" ] && return 0
  [ -x "$sources/waha/build.sh" ] && [ -x "$sources/evolution/build.sh" ] || {
    echo "gateway sources not found in $sources (set HERALD_GATEWAY_SOURCES)"
    return 1
  }
}

apt_install() {  # idempotent: only what is missing, only as root
  local missing=()
  command -v socat >/dev/null || missing+=(socat)
  command -v g++ >/dev/null || missing+=(g++)  # better-sqlite3 (WAHA) compiles
  command -v make >/dev/null || missing+=(make)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then echo "missing ${missing[*]}; install them (apt-get) as root"; return 1; fi
  echo "installing ${missing[*]} (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

case ${1:-} in
check)
  why=$(need_node && need_sources && need_registry) || { echo "${why:-cannot run}"; exit 3; }
  command -v socat >/dev/null || { echo "socat not found (make install installs it)"; exit 3; }
  command -v unshare >/dev/null || { echo "unshare not found (util-linux)"; exit 3; }
  unshare --net true 2>/dev/null || { echo "unshare --net is not permitted here (needs root or user namespaces)"; exit 3; }
  ;;
install)
  if ! why=$(need_node && need_sources && need_registry); then
    echo "real gateways not installed: $why"
    exit 0
  fi
  apt_install
  mkdir -p "$dest"
  SECONDS=0
  bash "$sources/waha/build.sh" "$dest"
  bash "$sources/evolution/build.sh" "$dest"
  cp "$sources/evolution/db.sh" "$sources/evolution/run.env.example" "$dest/"
  echo "real gateways ready in $dest (${SECONDS}s)"
  ;;
serve)
  gateway=${2:?usage: serve waha|evolution RUN_DIR [API_KEY]}
  run=$(cd "${3:?RUN_DIR}" && pwd)
  key=${4:-}
  case $gateway in
  waha)
    app=$dest/waha
    # WAHA keeps sessions under ./.sessions of its working directory: one per run.
    mkdir -p "$run/waha"
    start="cd '$run/waha' && exec env WHATSAPP_DEFAULT_ENGINE=NOWEB WHATSAPP_API_PORT=$api_port \
      WHATSAPP_API_HOSTNAME=127.0.0.1 WHATSAPP_API_KEY='$key' WAHA_PRINT_QR=false \
      WAHA_DASHBOARD_ENABLED=false WHATSAPP_RESTART_ALL_SESSIONS=false \
      WAHA_LOG_LEVEL=warn node '$app/dist/main'"
    ;;
  evolution)
    app=$dest/evolution-api
    set -a; . "$dest/run.env.example"; set +a
    export SERVER_PORT=$api_port SERVER_URL=http://127.0.0.1:$api_port \
      DATABASE_CONNECTION_URI=postgresql://postgres@127.0.0.1:$pg_port/evolution \
      AUTHENTICATION_API_KEY=${key:-change-me} LOG_LEVEL=ERROR,WARN LOG_BAILEYS=error
    start="cd '$app' && exec node dist/main"
    ;;
  *) echo "unknown gateway $gateway (waha or evolution)"; exit 2 ;;
  esac
  rm -f "$run/api.sock"
  # Inside the namespace: loopback up, the API out through api.sock, webhooks (and PostgreSQL)
  # in through hook.sock (pg.sock), then the gateway in the foreground.
  exec unshare --net --kill-child -- bash -c "
    set -e
    ip link set lo up
    socat UNIX-LISTEN:'$run/api.sock',fork,unlink-early TCP:127.0.0.1:$api_port &
    socat TCP-LISTEN:$hook_port,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:'$run/hook.sock' &
    socat TCP-LISTEN:$pg_port,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:'$run/pg.sock' &
    $start"
  ;;
*)
  sed -n '2,17p' "$0"
  exit 2
  ;;
esac
