#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker + controller) from Maven Central jars.
#
#   deploy/local/kafka.sh install   resolve the jars pinned by deploy/kafka/pom.xml (idempotent)
#   deploy/local/kafka.sh start     format storage once, start in the background, wait until ready
#   deploy/local/kafka.sh stop      SIGTERM, wait, SIGKILL after KAFKA_STOP_TIMEOUT
#   deploy/local/kafka.sh status    exit 0 when running
#
# A locked-down broker, as production runs it (SASL and ACLs), on its own data dir and ports:
#   deploy/local/kafka.sh start --sasl           SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256,
#                                                SCRAM-SHA-512), StandardAuthorizer: no ACL, no
#                                                access; the super user is KAFKA_SASL_ADMIN
#   deploy/local/kafka.sh acl --sasl ARGS...     Kafka's own kafka-acls (AclCommand, from the
#                                                kafka-tools jar, resolved once) as the super
#                                                user, e.g. --add --allow-principal User:x
#                                                --operation Write --topic campaign.commands
#   stop --sasl, status --sasl                   the same for the SASL broker
#
# Environment (defaults in brackets):
#   HERALD_LOCAL_DIR       state root [<repo>/.local]
#   KAFKA_PORT             client listener on 127.0.0.1 [9092]
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 [9093]
#   KAFKA_DATA_DIR         data, generated server.properties, pid file [$HERALD_LOCAL_DIR/kafka-data]
#   KAFKA_LOG_FILE         broker output [$HERALD_LOCAL_DIR/logs/kafka.log]
#   KAFKA_HEAP             [-Xmx768m -Xms256m]
#   KAFKA_JVM_OPTS         extra JVM options []
#   KAFKA_EXTRA_PROPERTIES extra server.properties lines (newline-separated), appended last []
#   KAFKA_INSTALL_DIR      where `install` puts libs/ and its stamp [<repo>/.local/kafka]
#                          (tied to the checkout, not to HERALD_LOCAL_DIR, so throw-away state
#                          dirs such as the tests' reuse one install)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness [60]
#   KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL [30]
#   MVN                    Maven command [mvn]; MVN_ARGS extra Maven arguments, e.g. -o []
#   JAVA                   Java 17+ launcher [$JAVA_HOME/bin/java, else java]
#   HERALD_OWNER_PID       if set, a watchdog stops the broker when that process exits
# With --sasl (or KAFKA_SASL=1) the defaults change to KAFKA_PORT 9094, KAFKA_CONTROLLER_PORT
# 9095, KAFKA_DATA_DIR $HERALD_LOCAL_DIR/kafka-sasl-data, KAFKA_LOG_FILE …/logs/kafka-sasl.log,
# and these apply:
#   KAFKA_SASL_ADMIN       super user name and password, NAME:PASSWORD [admin:admin-secret]
#   KAFKA_SASL_USERS       further users, NAME:PASSWORD,NAME:PASSWORD [] (PLAIN reads them at
#                          each start; SCRAM credentials are written when the data dir is
#                          formatted, i.e. on its first start)
set -euo pipefail

# `--sasl` may follow the subcommand; everything else is the subcommand and its arguments.
KAFKA_SASL="${KAFKA_SASL:-}"
ARGS=()
for arg in "$@"; do
	if [[ "$arg" == --sasl ]]; then KAFKA_SASL=1; else ARGS+=("$arg"); fi
done
set -- "${ARGS[@]+"${ARGS[@]}"}"

HERALD_COMPONENT=kafka
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=4.1.1
POM="$HERALD_REPO_ROOT/deploy/kafka/pom.xml"
PROBE="$HERALD_REPO_ROOT/deploy/local/kafka_probe.py"

HERALD_LOCAL_DIR="$(abspath "${HERALD_LOCAL_DIR:-$HERALD_REPO_ROOT/.local}")"
if [[ -n "$KAFKA_SASL" ]]; then
	KAFKA_PORT="${KAFKA_PORT:-9094}"
	KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9095}"
	KAFKA_DATA_DIR="$(abspath "${KAFKA_DATA_DIR:-$HERALD_LOCAL_DIR/kafka-sasl-data}")"
	KAFKA_LOG_FILE="$(abspath "${KAFKA_LOG_FILE:-$HERALD_LOCAL_DIR/logs/kafka-sasl.log}")"
else
	KAFKA_PORT="${KAFKA_PORT:-9092}"
	KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
	KAFKA_DATA_DIR="$(abspath "${KAFKA_DATA_DIR:-$HERALD_LOCAL_DIR/kafka-data}")"
	KAFKA_LOG_FILE="$(abspath "${KAFKA_LOG_FILE:-$HERALD_LOCAL_DIR/logs/kafka.log}")"
fi
KAFKA_SASL_ADMIN="${KAFKA_SASL_ADMIN:-admin:admin-secret}"
KAFKA_SASL_USERS="${KAFKA_SASL_USERS:-}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx768m -Xms256m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
KAFKA_EXTRA_PROPERTIES="${KAFKA_EXTRA_PROPERTIES:-}"
KAFKA_INSTALL_DIR="$(abspath "${KAFKA_INSTALL_DIR:-$HERALD_REPO_ROOT/.local/kafka}")"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_LOG4J_CONFIG="${KAFKA_LOG4J_CONFIG:-$HERALD_REPO_ROOT/deploy/kafka/log4j2.yaml}"

LIBS_DIR="$KAFKA_INSTALL_DIR/libs"
# kafka-tools (AclCommand) only, beside the broker's jars: `acl` resolves it on first use.
TOOLS_DIR="$KAFKA_INSTALL_DIR/tools"
STAMP="$KAFKA_INSTALL_DIR/installed.sha256"
HOST=127.0.0.1
PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
ADDR_FILE="$KAFKA_DATA_DIR/kafka.addr"
PROPS="$KAFKA_DATA_DIR/server.properties"
ADMIN_CONFIG="$KAFKA_DATA_DIR/admin-client.properties"
LOG_DIRS="$KAFKA_DATA_DIR/kraft"
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"
# Identifies our broker in `ps`: the generated properties path is unique per data dir.
MARKER="kafka.Kafka $PROPS"

for var in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_START_TIMEOUT KAFKA_STOP_TIMEOUT; do
	[[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a number, got '${!var}'"
done
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] ||
	die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $KAFKA_PORT)"

java_cmd() {
	if [[ -n "${JAVA:-}" ]]; then
		printf '%s\n' "$JAVA"
	elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		printf '%s\n' "$JAVA_HOME/bin/java"
	elif command -v java >/dev/null 2>&1; then
		command -v java
	else
		die "no java found: install a Java 17+ JDK/JRE (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
	fi
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

installed() {
	[[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]] &&
		compgen -G "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
}

do_install() {
	mkdir -p "$KAFKA_INSTALL_DIR"
	# Serialise concurrent installs (e.g. parallel test sessions) on one lock file; the lock
	# fd is closed again before anything is started, so the broker never inherits it.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$KAFKA_INSTALL_DIR/install.lock"
		flock 9
		install_locked
		exec 9>&-
	else
		install_locked
	fi
	# Kafka's ACL tool for the locked-down broker (tests/security): resolved here, once, so no
	# test has to reach Maven.
	install_tools
}

install_locked() {
	if installed; then
		log "Kafka $KAFKA_VERSION already installed in $LIBS_DIR (pom unchanged)"
		return 0
	fi
	local mvn="${MVN:-mvn}"
	command -v "$mvn" >/dev/null 2>&1 ||
		die "Maven ('$mvn') not found: install it (Debian: apt-get install maven) or set MVN"
	log "resolving Kafka $KAFKA_VERSION jars from $POM into $LIBS_DIR ..."
	local tmp="$KAFKA_INSTALL_DIR/libs.tmp.$$" started
	started="$(now_ms)"
	rm -rf "$tmp"
	local mvn_log="$KAFKA_INSTALL_DIR/install.log"
	# shellcheck disable=SC2086 # MVN_ARGS is a list of arguments
	if ! "$mvn" -q -B -Dstyle.color=never -f "$POM" ${MVN_ARGS:-} dependency:copy-dependencies \
		-DoutputDirectory="$tmp" -DincludeScope=runtime >"$mvn_log" 2>&1; then
		rm -rf "$tmp"
		tail -n 40 "$mvn_log" >&2
		die "Maven could not resolve $POM (needs Maven Central, or a filled ~/.m2 with MVN_ARGS=-o); full output in $mvn_log"
	fi
	compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null ||
		die "Maven finished but $tmp has no kafka_2.13-$KAFKA_VERSION.jar"
	rm -rf "$LIBS_DIR"
	mv "$tmp" "$LIBS_DIR"
	pom_hash >"$STAMP"
	log "installed $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $((($(now_ms) - started) / 1000))s"
}

write_properties() {
	mkdir -p "$KAFKA_DATA_DIR" "$LOG_DIRS"
	# Static quorum (controller.quorum.voters) rather than a dynamic `--standalone` one: the
	# voter endpoint then comes from this file on each start, so the same data dir can be
	# restarted on other ports.
	cat >"$PROPS" <<EOF
# Generated by deploy/local/kafka.sh on each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
$(listener_properties)
controller.listener.names=CONTROLLER
log.dirs=$LOG_DIRS
# The project creates its topics itself.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
	if [[ -n "$KAFKA_EXTRA_PROPERTIES" ]]; then
		printf '# From KAFKA_EXTRA_PROPERTIES:\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$PROPS"
	fi
}

listener_properties() {
	if [[ -z "$KAFKA_SASL" ]]; then
		cat <<EOF
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
EOF
		return
	fi
	local admin_name="${KAFKA_SASL_ADMIN%%:*}" admin_password="${KAFKA_SASL_ADMIN#*:}" users="" user
	for user in "$KAFKA_SASL_ADMIN" ${KAFKA_SASL_USERS//,/ }; do
		users+=" user_${user%%:*}=\"${user#*:}\""
	done
	# Clients and the broker itself speak SASL; the controller listener stays PLAINTEXT on
	# 127.0.0.1, so the broker's requests to its controller come as User:ANONYMOUS, which
	# must then be a super user (Kafka's KRaft security notes).
	cat <<EOF
listeners=SASL_PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$admin_name" password="$admin_password"$users;
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin_name;User:ANONYMOUS
EOF
}

# `--add-scram` arguments of `StorageTool format`: every SASL user, both SCRAM mechanisms.
scram_arguments() {
	[[ -n "$KAFKA_SASL" ]] || return 0
	local user mechanism
	for user in "$KAFKA_SASL_ADMIN" ${KAFKA_SASL_USERS//,/ }; do
		for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
			printf '%s\n' --add-scram "$mechanism=[name=${user%%:*},password=${user#*:}]"
		done
	done
}

new_cluster_id() {
	# A Kafka Uuid: 16 random bytes, URL-safe base64 without padding; not starting with '-'
	# (Kafka avoids those because they read like command-line options).
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
		[[ "$id" != -* ]] && break
	done
	printf '%s\n' "$id"
}

format_storage() {
	[[ -f "$LOG_DIRS/meta.properties" ]] && return 0
	local cluster_id java
	if [[ -s "$CLUSTER_ID_FILE" ]]; then
		cluster_id="$(cat "$CLUSTER_ID_FILE")"
	else
		cluster_id="$(new_cluster_id)"
		printf '%s\n' "$cluster_id" >"$CLUSTER_ID_FILE"
	fi
	java="$(java_cmd)"
	log "formatting $LOG_DIRS (cluster id $cluster_id)"
	# Short-lived tool: C1 only and the serial GC start about a second faster.
	local scram=()
	mapfile -t scram < <(scram_arguments)
	if ! "$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" \
		-cp "$LIBS_DIR/*" kafka.tools.StorageTool format \
		-t "$cluster_id" -c "$PROPS" "${scram[@]+"${scram[@]}"}" >>"$KAFKA_LOG_FILE" 2>&1; then
		tail -n 20 "$KAFKA_LOG_FILE" >&2
		die "formatting storage failed (full output in $KAFKA_LOG_FILE)"
	fi
}

print_ready() {
	local addr="$1"
	log "bootstrap address: $addr"
	printf 'KAFKA_BOOTSTRAP_SERVERS=%s\n' "$addr"
}

do_start() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		local addr
		addr="$(cat "$ADDR_FILE" 2>/dev/null || echo "$HOST:$KAFKA_PORT")"
		log "already running (pid $pid, data $KAFKA_DATA_DIR)"
		[[ "$addr" == "$HOST:$KAFKA_PORT" ]] ||
			warn "it listens on $addr, not on KAFKA_PORT=$KAFKA_PORT; stop it first to change ports"
		print_ready "$addr"
		return 0
	fi
	rm -f "$PID_FILE"
	if ! installed; then do_install; fi
	local port
	for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		if port_in_use "$HOST" "$port"; then
			die "port $HOST:$port is already in use by another process; choose others with KAFKA_PORT / KAFKA_CONTROLLER_PORT"
		fi
	done

	local java started log_dir
	java="$(java_cmd)"
	log_dir="$(dirname "$KAFKA_LOG_FILE")"
	started="$(now_ms)"
	rotate_log "$KAFKA_LOG_FILE"
	write_properties
	format_storage

	# Same GC settings as Kafka's own kafka-run-class.sh.
	# shellcheck disable=SC2086 # KAFKA_HEAP / KAFKA_JVM_OPTS are lists of options
	nohup setsid "$java" $KAFKA_HEAP \
		-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
		-XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" \
		-Dkafka.logs.dir="$log_dir" \
		$KAFKA_JVM_OPTS \
		-cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" \
		</dev/null >>"$KAFKA_LOG_FILE" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$PID_FILE"
	printf '%s\n' "$HOST:$KAFKA_PORT" >"$ADDR_FILE"
	start_watchdog "$pid" "$KAFKA_STOP_TIMEOUT"
	log "starting Kafka $KAFKA_VERSION (pid $pid, data $KAFKA_DATA_DIR, log $KAFKA_LOG_FILE)"

	if ! wait_ready "$pid"; then
		tail -n 30 "$KAFKA_LOG_FILE" >&2 || true
		if alive "$pid"; then
			stop_pid "$pid" kafka "$KAFKA_STOP_TIMEOUT"
			rm -f "$PID_FILE"
			die "not ready within ${KAFKA_START_TIMEOUT}s; stopped it (full log: $KAFKA_LOG_FILE)"
		fi
		rm -f "$PID_FILE"
		die "the broker exited during start-up (full log: $KAFKA_LOG_FILE)"
	fi
	log "ready after $(elapsed "$started")s"
	print_ready "$HOST:$KAFKA_PORT"
}

# Ready = the broker answers a Metadata request that lists a live (unfenced) broker.
# Without any Python, fall back to the "Kafka Server started" log line plus a TCP connect.
wait_ready() {
	local pid="$1" python
	python="$(probe_python)"
	if [[ -n "$python" ]]; then
		# On the SASL listener the probe logs in as the super user (PLAIN) first.
		KAFKA_PROBE_SASL_PLAIN="${KAFKA_SASL:+$KAFKA_SASL_ADMIN}" \
			"$python" "$PROBE" "$HOST" "$KAFKA_PORT" --pid "$pid" --timeout "$KAFKA_START_TIMEOUT" >/dev/null
		return
	fi
	local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		alive "$pid" || return 1
		if grep -q "Kafka Server started" "$KAFKA_LOG_FILE" && port_in_use "$HOST" "$KAFKA_PORT"; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

do_stop() {
	local pid
	if ! pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		rm -f "$PID_FILE"
		log "not running (data $KAFKA_DATA_DIR)"
		return 0
	fi
	log "stopping (pid $pid) ..."
	local started
	started="$(now_ms)"
	stop_pid "$pid" kafka "$KAFKA_STOP_TIMEOUT"
	rm -f "$PID_FILE"
	log "stopped after $(elapsed "$started")s"
}

do_status() {
	local pid
	if pid="$(running_pid "$PID_FILE" "$MARKER")"; then
		log "running (pid $pid) on $(cat "$ADDR_FILE" 2>/dev/null || echo "$HOST:$KAFKA_PORT"), data $KAFKA_DATA_DIR"
		return 0
	fi
	log "not running (data $KAFKA_DATA_DIR)"
	return 1
}

install_tools() {
	compgen -G "$TOOLS_DIR/kafka-tools-$KAFKA_VERSION.jar" >/dev/null && return 0
	local mvn="${MVN:-mvn}"
	command -v "$mvn" >/dev/null 2>&1 ||
		die "Maven ('$mvn') not found: install it (Debian: apt-get install maven) or set MVN"
	mkdir -p "$KAFKA_INSTALL_DIR"
	exec 8>"$KAFKA_INSTALL_DIR/tools.lock"
	if command -v flock >/dev/null 2>&1; then flock 8; fi
	if ! compgen -G "$TOOLS_DIR/kafka-tools-$KAFKA_VERSION.jar" >/dev/null; then
		log "resolving kafka-tools $KAFKA_VERSION into $TOOLS_DIR ..."
		local tmp="$TOOLS_DIR.tmp.$$" mvn_log="$KAFKA_INSTALL_DIR/tools-install.log"
		rm -rf "$tmp"
		# The pom pins the dependency plugin's version; the tool's other jars are in libs/.
		# shellcheck disable=SC2086 # MVN_ARGS is a list of arguments
		if ! "$mvn" -q -B -Dstyle.color=never -f "$POM" ${MVN_ARGS:-} dependency:copy \
			-Dartifact="org.apache.kafka:kafka-tools:$KAFKA_VERSION" \
			-DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
			rm -rf "$tmp"
			tail -n 40 "$mvn_log" >&2
			die "Maven could not resolve kafka-tools $KAFKA_VERSION; full output in $mvn_log"
		fi
		rm -rf "$TOOLS_DIR"
		mv "$tmp" "$TOOLS_DIR"
	fi
	exec 8>&-
}

# Kafka's kafka-acls (AclCommand) against the running SASL broker, as its super user.
do_acl() {
	[[ -n "$KAFKA_SASL" ]] || die "acl needs --sasl: the plaintext broker has no authorizer"
	running_pid "$PID_FILE" "$MARKER" >/dev/null || die "no SASL broker running (data $KAFKA_DATA_DIR)"
	install_tools
	local admin_name="${KAFKA_SASL_ADMIN%%:*}" admin_password="${KAFKA_SASL_ADMIN#*:}" java
	(
		umask 077
		cat >"$ADMIN_CONFIG" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$admin_name" password="$admin_password";
EOF
	)
	java="$(java_cmd)"
	"$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" \
		-cp "$LIBS_DIR/*:$TOOLS_DIR/*" org.apache.kafka.tools.AclCommand \
		--bootstrap-server "$(cat "$ADDR_FILE")" --command-config "$ADMIN_CONFIG" "$@"
}

if [[ "${1:-}" == acl ]]; then
	shift
	do_acl "$@"
else
	run_subcommand "$@"
fi
