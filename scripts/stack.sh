#!/usr/bin/env bash
# scripts/stack.sh: the local backing services (Postgres, Redis, Temporal dev server)
# behind `make run` (profile dev) and `make test` (profile test).
#
#   scripts/stack.sh install          install what is missing (apt: postgresql, redis-server;
#                                     go install: Temporal CLI into .tools/)
#   scripts/stack.sh up PROFILE       start what is not already answering, wait until ready,
#                                     create role/database orch (password orch)
#   scripts/stack.sh down PROFILE     stop only what `up PROFILE` started
#   scripts/stack.sh env PROFILE      print export lines: eval "$(scripts/stack.sh env test)"
#   scripts/stack.sh status           what answers, and what this script started
#   scripts/stack.sh running PROFILE  exit 0 if something `up PROFILE` started is running
#   scripts/stack.sh clean            down both profiles, remove .data/ and the test folders
#
# PROFILE is dev (data under .data/, kept between runs) or test (fresh folder under /tmp,
# wiped on `up test`). Everything listens on 127.0.0.1 only.
#
#   profile  postgres  redis  temporal gRPC  temporal UI
#   dev      15432     16379  17233          18233
#   test     25432     26379  27233          (headless)
#
# Settings (environment): STACK_READY_TIMEOUT (seconds to wait for each service, default 90);
# STACK_TEST_SLOT (0..9, default 0): the test profile's ports +100*slot and its own folder.
set -euo pipefail
umask 022

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TEMPORAL_CLI_MODULE="github.com/temporalio/cli/cmd/temporal"
TEMPORAL_CLI_VERSION="v1.5.1"
TEMPORAL_BIN="$REPO/.tools/temporal"
DB_NAME=orch DB_USER=orch DB_PASSWORD=orch
PG_SOCKET_DIR=/tmp
READY_TIMEOUT="${STACK_READY_TIMEOUT:-90}"

say() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

# ---------------------------------------------------------------- profiles

set_profile() {
	PROFILE="${1:-}"
	case "$PROFILE" in
	dev)
		PG_PORT=15432 REDIS_PORT=16379 TEMPORAL_PORT=17233 UI_PORT=18233
		STATE_DIR="$REPO/.data"
		;;
	test)
		# STACK_TEST_SLOT=N (1..9) moves a second test stack N*100 ports up, into its own
		# folder, so two work trees on one machine can run `make test` side by side.
		local slot="${STACK_TEST_SLOT:-0}" off
		[[ $slot =~ ^[0-9]$ ]] || die "STACK_TEST_SLOT must be a digit 0..9, not '$slot'"
		off=$((slot * 100))
		PG_PORT=$((25432 + off)) REDIS_PORT=$((26379 + off)) TEMPORAL_PORT=$((27233 + off)) UI_PORT=$((28233 + off))
		STATE_DIR="/tmp/masscustom-test-stack"
		((slot == 0)) || STATE_DIR+="-$slot"
		;;
	"") die "missing PROFILE (dev or test)" ;;
	*) die "unknown PROFILE '$PROFILE' (dev or test)" ;;
	esac
	LOG_DIR="$STATE_DIR/log"
	STATE_FILE="$STATE_DIR/stack.state"
	# Postgres' folder when STATE_DIR cannot be reached by the postgres user.
	PG_FALLBACK_BASE="/tmp/masscustom-$PROFILE${STACK_TEST_SLOT:+-$STACK_TEST_SLOT}-pg"
}

# ---------------------------------------------------------------- small helpers

go_bin() {
	if command -v go >/dev/null 2>&1; then command -v go
	elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
	else return 1
	fi
}

# Newest /usr/lib/postgresql/N/bin that has the server binaries.
find_pg_bin() {
	local d best=""
	while IFS= read -r d; do
		[[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres && -x $d/psql ]] && best=$d
	done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
	[[ -n $best ]] && PG_BIN=$best
}

require_pg() {
	find_pg_bin || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; run: scripts/stack.sh install"
	id -u postgres >/dev/null 2>&1 || die "user 'postgres' does not exist; run: scripts/stack.sh install"
}
require_redis() {
	command -v redis-server >/dev/null 2>&1 || die "redis-server not found; run: scripts/stack.sh install"
}
require_temporal() {
	[[ -x $TEMPORAL_BIN ]] || die "Temporal CLI not found at $TEMPORAL_BIN; run: scripts/stack.sh install"
}

# Run as the postgres user, from a directory it can enter, with no stdin and no lock fd.
as_pg() { (cd / && runuser -u postgres -- "$@" </dev/null 9>&-); }

# Daemons must not inherit our descriptors beyond 0-2 (the lock on fd 9, a pipe of the
# caller's that would then never see EOF, ...): `bash -c "$CLOSE_FDS; exec CMD"`.
# shellcheck disable=SC2016
CLOSE_FDS='for f in /proc/$$/fd/*; do f=${f##*/}; [[ $f =~ ^[0-9]+$ ]] && ((f > 2)) && eval "exec $f>&-" 2>/dev/null; done; true'

pg_reachable() { (cd / && runuser -u postgres -- test -x "$1") 2>/dev/null; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

redis_ready() {
	# shellcheck disable=SC2016
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "PING\r\n" >&3
		IFS= read -r -t 2 line <&3 || exit 1
		[[ $line == "+PONG"* ]]' redis-ping "$REDIS_PORT" 2>/dev/null
}

temporal_ready() {
	if [[ -x $TEMPORAL_BIN ]]; then
		timeout 10 "$TEMPORAL_BIN" operator namespace describe --namespace default \
			--address "127.0.0.1:$TEMPORAL_PORT" --command-timeout 5s \
			--disable-config-file --disable-config-env >/dev/null 2>&1 </dev/null
	else
		port_open "$TEMPORAL_PORT"
	fi
}

# pid_is PID WORD...: PID is alive and its command line contains every WORD.
pid_is() {
	local pid=$1 cmd w
	shift
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	cmd=$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) || return 1
	for w in "$@"; do [[ $cmd == *"$w"* ]] || return 1; done
}

# ---------------------------------------------------------------- state file (key=value lines)

state_get() {
	[[ -f $STATE_FILE ]] || return 0
	sed -n "s/^$1=//p" "$STATE_FILE" | tail -n1
}
state_set() {
	mkdir -p "$STATE_DIR"
	local tmp="$STATE_FILE.tmp.$$"
	{
		if [[ -f $STATE_FILE ]]; then grep -v "^$1=" "$STATE_FILE" || true; fi
		printf '%s=%s\n' "$1" "$2"
	} >"$tmp"
	mv -f "$tmp" "$STATE_FILE"
}
state_del() {
	[[ -f $STATE_FILE ]] || return 0
	local tmp="$STATE_FILE.tmp.$$"
	grep -v "^$1=" "$STATE_FILE" >"$tmp" || true
	mv -f "$tmp" "$STATE_FILE"
}

# One `up`/`down`/`clean` per profile at a time. Every daemon is started with 9>&- so
# that none of them keeps the lock.
take_lock() {
	exec 9>"/tmp/masscustom-stack-$PROFILE.lock"
	flock -w 300 9 || die "another scripts/stack.sh is busy with profile $PROFILE (lock /tmp/masscustom-stack-$PROFILE.lock)"
}

# fail SERVICE LOGFILE MESSAGE: name the service and its log, show the log's tail.
fail() {
	local svc=$1 logf=$2
	shift 2
	printf 'stack: error: %s: %s\n' "$svc" "$*" >&2
	if [[ -n $logf ]]; then
		printf 'stack: %s log: %s\n' "$svc" "$logf" >&2
		if [[ -s $logf ]]; then
			# Only this start's lines (after the last "=== " header), at most 30.
			printf -- '----- last lines of %s -----\n' "$logf" >&2
			awk '/^=== /{n=0} {l[n++]=$0} END{for(i=(n>30?n-30:0);i<n;i++) print l[i]}' "$logf" >&2 || true
			printf -- '-----\n' >&2
		fi
	fi
	say "what was started is recorded; stop it with: scripts/stack.sh down $PROFILE"
	exit 1
}

# wait_ready SERVICE LOGFILE PID CHECK...: poll CHECK until it succeeds, the process dies
# (when PID is given) or READY_TIMEOUT passes.
wait_ready() {
	local svc=$1 logf=$2 pid=$3
	shift 3
	local deadline=$((SECONDS + READY_TIMEOUT))
	until "$@"; do
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			fail "$svc" "$logf" "exited during start-up"
		fi
		if ((SECONDS >= deadline)); then
			fail "$svc" "$logf" "not ready after ${READY_TIMEOUT}s"
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------- install

cmd_install() {
	local apt_pkgs=() p
	if ! find_pg_bin || ! id -u postgres >/dev/null 2>&1; then apt_pkgs+=(postgresql); fi
	command -v redis-server >/dev/null 2>&1 || apt_pkgs+=(redis-server)

	if ((${#apt_pkgs[@]})); then
		[[ $(id -u) == 0 ]] || die "installing ${apt_pkgs[*]} needs root (apt-get)"
		command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${apt_pkgs[*]} by hand"
		local alog
		alog=$(mktemp /tmp/masscustom-apt.XXXXXX.log)
		export DEBIAN_FRONTEND=noninteractive
		if ! apt-get update -qq >>"$alog" 2>&1 </dev/null; then
			tail -n 20 "$alog" >&2
			die "apt-get update failed (log: $alog)"
		fi
		if ! apt-get install -y -qq --no-install-recommends \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
			"${apt_pkgs[@]}" >>"$alog" 2>&1 </dev/null; then
			tail -n 20 "$alog" >&2
			die "apt-get install ${apt_pkgs[*]} failed (log: $alog)"
		fi
		rm -f "$alog"
		for p in "${apt_pkgs[@]}"; do echo "stack: installed $p (apt-get)"; done
		if [[ " ${apt_pkgs[*]} " == *" postgresql "* ]]; then
			find_pg_bin || die "postgresql installed but no server binaries under /usr/lib/postgresql/*/bin"
		fi
	fi

	if [[ ! -x $TEMPORAL_BIN ]]; then
		local go tlog
		go=$(go_bin) || die "go not found (needed to build the Temporal CLI); install Go 1.26 into /usr/local/go"
		mkdir -p "$REPO/.tools"
		tlog="$REPO/.tools/temporal-install.log"
		printf 'stack: installing Temporal CLI %s into .tools/ (first build takes ~4 minutes)...' "$TEMPORAL_CLI_VERSION"
		if ! (cd "$REPO" && GOBIN="$REPO/.tools" "$go" install "$TEMPORAL_CLI_MODULE@$TEMPORAL_CLI_VERSION") >"$tlog" 2>&1 </dev/null; then
			echo " failed"
			tail -n 20 "$tlog" >&2
			die "go install $TEMPORAL_CLI_MODULE@$TEMPORAL_CLI_VERSION failed (log: $tlog)"
		fi
		echo " done"
		rm -f "$tlog"
	fi
}

# ---------------------------------------------------------------- postgres

# Sets PG_BASE (postgres-owned folder: data/ and postgres.log) and PG_DATA, PG_LOG.
pg_paths() {
	if pg_reachable "$STATE_DIR"; then
		PG_BASE="$STATE_DIR/postgres"
	else
		PG_BASE="$PG_FALLBACK_BASE"
	fi
	PG_DATA="$PG_BASE/data"
	PG_LOG="$PG_BASE/postgres.log"
}

pg_running_at() { # DATA dir: a postmaster runs on it
	[[ -n $1 ]] && as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

pg_prepare_base() {
	if [[ -L $PG_BASE ]] || { [[ -e $PG_BASE ]] && [[ ! -d $PG_BASE ]]; }; then
		die "$PG_BASE exists and is not a plain directory; remove it"
	fi
	mkdir -p "$PG_BASE"
	chown postgres:postgres "$PG_BASE"
	chmod 755 "$PG_BASE"
	if [[ $PG_BASE != "$STATE_DIR/postgres" ]]; then
		say "postgres cannot reach $STATE_DIR; its data lives in $PG_BASE"
	fi
	# One place to look for every log.
	[[ $PG_LOG == "$LOG_DIR/postgres.log" ]] || ln -sfn "$PG_LOG" "$LOG_DIR/postgres.log"
}

pg_initdb() {
	local conf
	rm -rf "$PG_DATA"
	install -d -o postgres -g postgres -m 700 "$PG_DATA"
	: >"$PG_LOG"
	chown postgres:postgres "$PG_LOG"
	if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
		--auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1; then
		fail postgres "$PG_LOG" "initdb failed"
	fi
	conf="$PG_DATA/postgresql.conf"
	{
		echo
		echo "# --- scripts/stack.sh ($PROFILE) ---"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $PG_PORT"
		echo "unix_socket_directories = '$PG_SOCKET_DIR'"
		echo "max_connections = 200"
		echo "password_encryption = 'scram-sha-256'"
		if [[ $PROFILE == test ]]; then
			# Throwaway data: trade durability for speed.
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} >>"$conf"
}

# Starts Postgres unless something answers on PG_PORT. Returns with it accepting connections.
pg_up() {
	local rec_data
	rec_data=$(state_get postgres_data)
	if pg_ready; then
		if [[ -n $rec_data ]] && pg_running_at "$rec_data"; then
			say "postgres: already running on 127.0.0.1:$PG_PORT (started by this script)"
		else
			say "postgres: something already answers on 127.0.0.1:$PG_PORT; using it (not started here, will not be stopped)"
			state_del postgres_data
		fi
		return 0
	fi

	pg_paths
	pg_prepare_base
	if pg_running_at "$PG_DATA"; then
		# Running but not answering yet (starting, recovering): wait for it below.
		say "postgres: a server on $PG_DATA is starting; waiting"
	else
		if [[ $PROFILE == test ]] || [[ ! -s $PG_DATA/PG_VERSION ]]; then
			say "postgres: initdb $PG_DATA"
			pg_initdb
		fi
		say "postgres: starting on 127.0.0.1:$PG_PORT"
		touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
		echo "=== $(date -Is) pg_ctl start -D $PG_DATA (port $PG_PORT)" >>"$PG_LOG"
		state_set postgres_data "$PG_DATA"
		# -w: pg_ctl itself waits, and notices a server that dies during start-up.
		if ! as_pg bash -c "$CLOSE_FDS; exec \"\$@\"" pg_ctl \
			"$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start \
			>>"$LOG_DIR/pg_ctl.log" 2>&1; then
			fail postgres "$PG_LOG" "did not start (see also $LOG_DIR/pg_ctl.log)"
		fi
	fi
	state_set postgres_data "$PG_DATA"
	wait_ready postgres "$PG_LOG" "" pg_ready
}

psql_super() { # SQL on stdin, as the postgres superuser over the unix socket (peer auth)
	local dir
	for dir in "$PG_SOCKET_DIR" /var/run/postgresql; do
		[[ -S $dir/.s.PGSQL.$PG_PORT ]] || continue
		(cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
			-h "$dir" -p "$PG_PORT" -U postgres -d postgres 9>&-) && return 0
	done
	return 1
}

psql_orch() {
	PGPASSWORD=$DB_PASSWORD PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" "$@" </dev/null
}

pg_ensure_db() {
	local createdb=NOCREATEDB want_createdb=f
	if [[ $PROFILE == test ]]; then createdb=CREATEDB want_createdb=t; fi
	if psql_super >/dev/null 2>"$LOG_DIR/psql-setup.log" <<SQL; then
SELECT 'CREATE ROLE $DB_USER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER')\\gexec
ALTER ROLE $DB_USER LOGIN $createdb PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')\\gexec
SQL
		:
	fi
	# Whatever happened above, the app's credentials must work.
	local got
	if ! got=$(psql_orch -c "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user" 2>&1); then
		fail postgres "$LOG_DIR/psql-setup.log" "cannot connect as $DB_USER to database $DB_NAME on 127.0.0.1:$PG_PORT ($got)," \
			"and could not create the role as superuser over the unix socket"
	fi
	if [[ $got != "$want_createdb" && $PROFILE == test ]]; then
		fail postgres "$LOG_DIR/psql-setup.log" "role $DB_USER lacks CREATEDB on the Postgres at 127.0.0.1:$PG_PORT"
	fi
}

pg_down() {
	local data
	data=$(state_get postgres_data)
	[[ -n $data ]] || return 0
	if pg_running_at "$data"; then
		say "postgres: stopping ($data)"
		as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
			say "postgres: could not stop the server on $data"
	fi
	state_del postgres_data
}

# ---------------------------------------------------------------- redis

redis_up() {
	local rec_pid dir pidfile logf pid
	REDIS_PID=""
	rec_pid=$(state_get redis_pid)
	if redis_ready; then
		if pid_is "$rec_pid" redis-server ":$REDIS_PORT"; then
			say "redis: already running on 127.0.0.1:$REDIS_PORT (started by this script)"
		else
			say "redis: something already answers on 127.0.0.1:$REDIS_PORT; using it (not started here, will not be stopped)"
			state_del redis_pid
		fi
		return 0
	fi
	port_open "$REDIS_PORT" && fail redis "" "port 127.0.0.1:$REDIS_PORT is taken by something that does not answer PING"

	dir="$STATE_DIR/redis"
	pidfile="$dir/redis.pid"
	logf="$LOG_DIR/redis.log"
	mkdir -p "$dir"
	rm -f "$pidfile"
	local args=(--port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --daemonize yes
		--dir "$dir" --pidfile "$pidfile" --logfile "$logf" --save '')
	if [[ $PROFILE == dev ]]; then
		args+=(--appendonly yes --appendfsync everysec)
	else
		rm -rf "${dir:?}"/*
		args+=(--appendonly no)
	fi
	say "redis: starting on 127.0.0.1:$REDIS_PORT"
	rotate_log "$logf"
	echo "=== $(date -Is) redis-server ${args[*]}" >>"$logf"
	if ! bash -c "$CLOSE_FDS; exec redis-server \"\$@\"" redis-server "${args[@]}" </dev/null >>"$logf" 2>&1; then
		fail redis "$logf" "redis-server failed to start"
	fi
	# The daemon writes its pid file right after forking; record it at once so that
	# `down` can stop it even if a later step fails.
	local i
	for ((i = 0; i < 100; i++)); do [[ -s $pidfile ]] && break; sleep 0.05; done
	pid=$(cat "$pidfile" 2>/dev/null || true)
	[[ -n $pid ]] || fail redis "$logf" "did not start (no pid file at $pidfile)"
	state_set redis_pid "$pid"
	REDIS_PID=$pid
}

redis_wait() {
	wait_ready redis "$LOG_DIR/redis.log" "${REDIS_PID:-}" redis_ready
}

redis_down() {
	local pid
	pid=$(state_get redis_pid)
	[[ -n $pid ]] || return 0
	if pid_is "$pid" redis-server ":$REDIS_PORT"; then
		say "redis: stopping (pid $pid)"
		stop_pid "$pid" 20
	fi
	state_del redis_pid
}

# ---------------------------------------------------------------- temporal

temporal_up() {
	local rec_pid logf pidfile
	rec_pid=$(state_get temporal_pid)
	if port_open "$TEMPORAL_PORT"; then
		if pid_is "$rec_pid" start-dev "$TEMPORAL_PORT"; then
			say "temporal: already running on 127.0.0.1:$TEMPORAL_PORT (started by this script)"
		else
			say "temporal: something already answers on 127.0.0.1:$TEMPORAL_PORT; using it (not started here, will not be stopped)"
			state_del temporal_pid
		fi
		TEMPORAL_PID=""
		return 0
	fi
	if pid_is "$rec_pid" start-dev "$TEMPORAL_PORT"; then
		# Ours, alive, but not listening: hung or still starting. Start over.
		say "temporal: recorded server (pid $rec_pid) does not answer; restarting it"
		stop_pid "$rec_pid" 20
	fi
	state_del temporal_pid

	logf="$LOG_DIR/temporal.log"
	pidfile="$STATE_DIR/temporal.pid"
	local args=(server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --namespace default
		--log-level warn --disable-config-file --disable-config-env)
	if [[ $PROFILE == dev ]]; then
		# A file store: workflows survive a restart.
		args+=(--ui-ip 127.0.0.1 --ui-port "$UI_PORT" --db-filename "$STATE_DIR/temporal.db")
	else
		# In memory, no UI: every `up test` starts empty.
		args+=(--headless)
	fi
	say "temporal: starting on 127.0.0.1:$TEMPORAL_PORT"
	rm -f "$pidfile"
	rotate_log "$logf"
	echo "=== $(date -Is) $TEMPORAL_BIN ${args[*]}" >>"$logf"
	# setsid: own session, so Ctrl-C in the terminal that ran `make run` does not reach it.
	# The bash wrapper writes its own pid and then becomes the server (exec).
	# shellcheck disable=SC2016
	setsid bash -c "$CLOSE_FDS"'; echo $$ >"$1"; shift; exec "$@"' stack-temporal "$pidfile" \
		"$TEMPORAL_BIN" "${args[@]}" </dev/null >>"$logf" 2>&1 &
	local i
	for ((i = 0; i < 50; i++)); do [[ -s $pidfile ]] && break; sleep 0.05; done
	TEMPORAL_PID=$(cat "$pidfile" 2>/dev/null || true)
	[[ -n $TEMPORAL_PID ]] || fail temporal "$logf" "did not start"
	state_set temporal_pid "$TEMPORAL_PID"
}

temporal_wait() {
	wait_ready temporal "$LOG_DIR/temporal.log" "${TEMPORAL_PID:-}" temporal_ready
}

temporal_down() {
	local pid
	pid=$(state_get temporal_pid)
	[[ -n $pid ]] || return 0
	if pid_is "$pid" start-dev "$TEMPORAL_PORT"; then
		say "temporal: stopping (pid $pid)"
		stop_pid "$pid" 30
	fi
	state_del temporal_pid
}

# Keep dev logs from growing without end: past 20 MB the old one becomes LOG.1.
rotate_log() {
	local size
	size=$(stat -c %s "$1" 2>/dev/null || echo 0)
	if ((size > 20 * 1024 * 1024)); then mv -f "$1" "$1.1"; fi
}

# stop_pid PID SECONDS: TERM, wait, then KILL.
stop_pid() {
	local pid=$1 secs=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	say "pid $pid did not stop within ${secs}s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# ---------------------------------------------------------------- commands

# Any service recorded for this profile still alive?
recorded_alive() {
	local d p
	d=$(state_get postgres_data)
	[[ -n $d ]] && find_pg_bin && pg_running_at "$d" && return 0
	p=$(state_get redis_pid)
	pid_is "$p" redis-server ":$REDIS_PORT" && return 0
	p=$(state_get temporal_pid)
	pid_is "$p" start-dev "$TEMPORAL_PORT" && return 0
	return 1
}

cmd_up() {
	set_profile "${1:-}"
	require_pg
	require_redis
	require_temporal
	take_lock
	local t0=$SECONDS

	if [[ $PROFILE == test ]] && ! recorded_alive; then
		# Nothing of ours runs: start from an empty folder.
		rm -rf "$STATE_DIR" "$PG_FALLBACK_BASE"
	fi
	mkdir -p "$STATE_DIR" "$LOG_DIR"
	chmod 755 "$STATE_DIR" "$LOG_DIR"

	# Temporal takes longest: start it first, wait for it last.
	temporal_up
	redis_up
	pg_up
	pg_ensure_db
	redis_wait
	temporal_wait

	say "$PROFILE stack ready in $((SECONDS - t0))s: postgres 127.0.0.1:$PG_PORT, redis 127.0.0.1:$REDIS_PORT, temporal 127.0.0.1:$TEMPORAL_PORT$([[ $PROFILE == dev ]] && echo ", temporal UI http://127.0.0.1:$UI_PORT") (logs: $LOG_DIR)"
}

cmd_down() {
	set_profile "${1:-}"
	if [[ ! -f $STATE_FILE ]]; then
		say "$PROFILE: nothing was started by this script"
		return 0
	fi
	find_pg_bin || true
	take_lock
	temporal_down
	redis_down
	if [[ -n $(state_get postgres_data) ]]; then
		require_pg
		pg_down
	fi
	rm -f "$STATE_FILE"
	say "$PROFILE: stopped what this script started"
}

# fault PROFILE ACTION: what `make chaos` does to the services of a running stack.
#   postgres-restart  a fast restart of Postgres (connections drop, it comes back)
#   redis-stop        stop Redis (redis-start starts it again, empty in the test profile)
#   temporal-pause    SIGSTOP the Temporal dev server (temporal-resume: SIGCONT)
cmd_fault() {
	set_profile "${1:-}"
	local action=${2:-} data pid
	find_pg_bin || true
	case "$action" in
	postgres-restart)
		data=$(state_get postgres_data)
		[[ -n $data ]] || die "fault: this script did not start Postgres for $PROFILE"
		require_pg
		PG_LOG="$(dirname "$data")/postgres.log"
		as_pg bash -c "$CLOSE_FDS; exec \"\$@\"" pg_ctl "$PG_BIN/pg_ctl" -D "$data" -l "$PG_LOG" -m fast -w -t 60 restart >>"$LOG_DIR/pg_ctl.log" 2>&1 ||
			die "fault: postgres did not restart (see $LOG_DIR/pg_ctl.log)"
		;;
	redis-stop) redis_down ;;
	redis-start)
		redis_up
		redis_wait
		;;
	temporal-pause | temporal-resume)
		pid=$(state_get temporal_pid)
		pid_is "$pid" start-dev "$TEMPORAL_PORT" || die "fault: this script did not start the Temporal dev server for $PROFILE"
		if [[ $action == temporal-pause ]]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
		;;
	*) die "fault: unknown action '$action' (postgres-restart, redis-stop, redis-start, temporal-pause, temporal-resume)" ;;
	esac
	say "$PROFILE: $action done"
}

cmd_env() {
	set_profile "${1:-}"
	local ui=""
	[[ $PROFILE == dev ]] && ui="http://127.0.0.1:$UI_PORT"
	cat <<EOF
export DATABASE_URL='postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=disable'
export REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'
export TEMPORAL_ADDRESS='127.0.0.1:$TEMPORAL_PORT'
export TEMPORAL_NAMESPACE='default'
export TEMPORAL_UI_URL='$ui'
EOF
}

cmd_status() {
	local prof
	find_pg_bin || true
	for prof in dev test; do
		set_profile "$prof"
		echo "$PROFILE (state: $STATE_DIR):"
		status_line postgres "$PG_PORT" "$( [[ -n ${PG_BIN:-} ]] && pg_ready && echo up)" \
			"$( d=$(state_get postgres_data); [[ -n $d && -n ${PG_BIN:-} ]] && pg_running_at "$d" && echo "$d")"
		status_line redis "$REDIS_PORT" "$(redis_ready && echo up)" \
			"$( p=$(state_get redis_pid); pid_is "$p" redis-server ":$REDIS_PORT" && echo "pid $p")"
		status_line temporal "$TEMPORAL_PORT" "$(temporal_ready && echo up)" \
			"$( p=$(state_get temporal_pid); pid_is "$p" start-dev "$TEMPORAL_PORT" && echo "pid $p")"
	done
}

status_line() { # NAME PORT UP OURS
	local what="down"
	[[ -n $3 ]] && what="up"
	if [[ -n $4 ]]; then
		what="$what, started by this script ($4)"
	elif [[ -n $3 ]]; then
		what="$what, not started by this script"
	fi
	printf '  %-9s 127.0.0.1:%-6s %s\n' "$1" "$2" "$what"
}

cmd_clean() {
	cmd_down dev
	cmd_down test
	# Also stop servers still running on our own folders whose state file was lost.
	local prof d pid
	find_pg_bin || true
	for prof in dev test; do
		set_profile "$prof"
		for d in "$STATE_DIR/postgres/data" "$PG_FALLBACK_BASE/data"; do
			if [[ -n ${PG_BIN:-} && -f $d/postmaster.pid ]] && pg_running_at "$d"; then
				say "postgres: stopping leftover server on $d"
				as_pg "$PG_BIN/pg_ctl" -D "$d" -m fast -w -t 60 stop >/dev/null 2>&1 || true
			fi
		done
		pid=$(cat "$STATE_DIR/redis/redis.pid" 2>/dev/null || true)
		if pid_is "$pid" redis-server ":$REDIS_PORT"; then say "redis: stopping leftover pid $pid"; stop_pid "$pid" 20; fi
		pid=$(cat "$STATE_DIR/temporal.pid" 2>/dev/null || true)
		if pid_is "$pid" start-dev "$TEMPORAL_PORT"; then say "temporal: stopping leftover pid $pid"; stop_pid "$pid" 30; fi
		rm -rf "$STATE_DIR" "$PG_FALLBACK_BASE"
		say "$PROFILE: removed $STATE_DIR"
	done
}

main() {
	local cmd="${1:-}"
	shift || true
	case "$cmd" in
	fault) cmd_fault "$@" ;;
	install) cmd_install ;;
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	env) cmd_env "$@" ;;
	status) cmd_status ;;
	running) set_profile "${1:-}"; find_pg_bin || true; recorded_alive ;;
	clean) cmd_clean ;;
	-h | --help | help | "") usage ;;
	*) say "unknown command '$cmd'"; usage ;;
	esac
}

main "$@"
