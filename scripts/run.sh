#!/usr/bin/env bash
# scripts/run.sh: `make run`. Installs what is missing, builds, starts the dev stack
# (Postgres, Redis, Temporal dev server on loopback, data under .data/), migrates and seeds
# demo data (bin/seed, which prints demo tokens), then runs the worker and the gateway in
# the foreground. Ctrl-C stops the worker and the gateway, then the services this run
# started (a dev stack that was already up before `make run` is left running).
#
# Settings (environment): HTTP_ADDR (gateway, default 127.0.0.1:8080); anything else the
# binaries read (see services/config) passes through.
set -euo pipefail
umask 022

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"

say() { printf '==> %s\n' "$*"; }

scripts/stack.sh install

say "building bin/gateway, bin/worker, bin/seed"
"${MAKE:-make}" --no-print-directory build

stack_was_up=0
if scripts/stack.sh running dev; then stack_was_up=1; fi

pids=()
names=()
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	local i pid deadline
	if ((${#pids[@]})); then
		say "stopping ${names[*]}"
		for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
		# The binaries drain in-flight work on SIGTERM (SHUTDOWN_TIMEOUT, 20s by default).
		deadline=$((SECONDS + 30))
		for i in "${!pids[@]}"; do
			pid=${pids[$i]}
			while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
			if kill -0 "$pid" 2>/dev/null; then
				echo "${names[$i]} (pid $pid) did not stop in time; killing it" >&2
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done
	fi
	if ((stack_was_up)); then
		say "leaving the dev stack running (it was up before make run; stop it with: make stop)"
	else
		say "stopping the dev stack"
		scripts/stack.sh down dev || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

scripts/stack.sh up dev
eval "$(scripts/stack.sh env dev)"
export HTTP_ADDR="${HTTP_ADDR:-127.0.0.1:8080}"

say "migrating and seeding (bin/seed)"
bin/seed

# start NAME CMD...: in its own session (Ctrl-C reaches only this script, which then stops
# the binaries one signal at a time), output prefixed with the name.
start() {
	local name=$1
	shift
	setsid "$@" </dev/null > >(trap '' INT TERM HUP; exec sed -u "s/^/[$name] /") 2>&1 &
	pids+=("$!")
	names+=("$name")
}

say "starting worker and gateway"
start worker bin/worker
start gateway bin/gateway

# Wait for the gateway's port (or for either binary to die).
http_port=${HTTP_ADDR##*:}
http_host=${HTTP_ADDR%:*}
case "$http_host" in "" | 0.0.0.0 | "[::]" | "::") http_host=127.0.0.1 ;; esac
deadline=$((SECONDS + 60))
until timeout 1 bash -c "exec 3<>/dev/tcp/$http_host/$http_port" 2>/dev/null; do
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[$i]}" 2>/dev/null; then
			wait "${pids[$i]}" && rc=0 || rc=$?
			echo "${names[$i]} exited during start-up (exit $rc)" >&2
			exit 1
		fi
	done
	if ((SECONDS >= deadline)); then
		echo "gateway is not listening on $HTTP_ADDR after 60s" >&2
		exit 1
	fi
	sleep 0.2
done

base="http://$http_host:$http_port"
cat <<EOF

==> running
    GraphQL      $base/graphql
    Playground   $base/
    Temporal UI  $TEMPORAL_UI_URL
    Postgres     $DATABASE_URL
    Redis        $REDIS_URL
    Temporal     $TEMPORAL_ADDRESS (namespace $TEMPORAL_NAMESPACE)
    logs of the services: .data/log/
    Ctrl-C stops the worker, the gateway and the services this run started.

EOF

# Run until either binary exits or we are signalled.
rc=0
wait -n "${pids[@]}" || rc=$?
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[$i]}" 2>/dev/null; then
		echo "${names[$i]} exited (exit $rc); stopping the rest" >&2
	fi
done
((rc == 0)) && rc=1 # neither should exit on its own
exit "$rc"
