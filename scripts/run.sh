#!/usr/bin/env bash
# scripts/run.sh: `make run`. Installs what is missing, builds, starts the dev stack
# (Postgres, Redis, Temporal dev server on loopback, data under .data/), migrates and seeds
# demo data (bin/seed, which prints demo tokens), then runs the worker and the gateway in
# the foreground. Ctrl-C stops the worker and the gateway, then the services this run
# started (a dev stack that was already up before `make run` is left running).
#
# Settings (environment): HTTP_ADDR (the first gateway, default 127.0.0.1:8080);
# GATEWAYS=N (default 1) gateways on consecutive ports from HTTP_ADDR's; WORKERS=M
# (default 1) workers, their health and metrics listeners on the ports after the last
# gateway's (WORKER_HTTP_ADDR is then ignored); anything else the binaries read (see
# services/config) passes through. Every gateway and worker shares the one dev stack:
# a subscriber on one gateway sees what was caused through another (Redis fans events
# out, Postgres replays them), and Temporal spreads the task queue over the workers.
set -euo pipefail
umask 022

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"

say() { printf '==> %s\n' "$*"; }

GATEWAYS=${GATEWAYS:-1}
WORKERS=${WORKERS:-1}
for v in GATEWAYS WORKERS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]?$ ]]; then
		echo "run: $v must be a number from 1 to 99, not '${!v}'" >&2
		exit 2
	fi
done

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

http_port=${HTTP_ADDR##*:}
http_host=${HTTP_ADDR%:*}
if ! [[ $http_port =~ ^[0-9]+$ ]] || ((http_port + GATEWAYS + WORKERS > 65536)); then
	echo "run: HTTP_ADDR=$HTTP_ADDR leaves no room for $GATEWAYS gateways and $WORKERS workers" >&2
	exit 2
fi
dial_host=$http_host
case "$dial_host" in "" | 0.0.0.0 | "[::]" | "::") dial_host=127.0.0.1 ;; esac

say "starting $WORKERS worker(s) and $GATEWAYS gateway(s)"
for ((w = 1; w <= WORKERS; w++)); do
	name=worker
	((WORKERS > 1)) && name="worker-$w"
	WORKER_HTTP_ADDR="$dial_host:$((http_port + GATEWAYS + w - 1))" start "$name" bin/worker
done
gateway_urls=()
for ((g = 1; g <= GATEWAYS; g++)); do
	name=gateway
	((GATEWAYS > 1)) && name="gateway-$g"
	HTTP_ADDR="$http_host:$((http_port + g - 1))" start "$name" bin/gateway
	gateway_urls+=("http://$dial_host:$((http_port + g - 1))")
done

# Wait for every gateway's port (or for any binary to die).
deadline=$((SECONDS + 60))
for ((g = 0; g < GATEWAYS; g++)); do
	port=$((http_port + g))
	until timeout 1 bash -c "exec 3<>/dev/tcp/$dial_host/$port" 2>/dev/null; do
		for i in "${!pids[@]}"; do
			if ! kill -0 "${pids[$i]}" 2>/dev/null; then
				wait "${pids[$i]}" && rc=0 || rc=$?
				echo "${names[$i]} exited during start-up (exit $rc)" >&2
				exit 1
			fi
		done
		if ((SECONDS >= deadline)); then
			echo "a gateway is not listening on $dial_host:$port after 60s" >&2
			exit 1
		fi
		sleep 0.2
	done
done

base=${gateway_urls[0]}
cat <<EOF

==> running
    GraphQL      $(printf '%s/graphql ' "${gateway_urls[@]}")
    Playground   $base/
    Workers      $WORKERS (health and metrics on ports $((http_port + GATEWAYS))..$((http_port + GATEWAYS + WORKERS - 1)))
    Temporal UI  $TEMPORAL_UI_URL
    Postgres     $DATABASE_URL
    Redis        $REDIS_URL
    Temporal     $TEMPORAL_ADDRESS (namespace $TEMPORAL_NAMESPACE)
    logs of the services: .data/log/
    Ctrl-C stops the workers, the gateways and the services this run started.

EOF

# Run until any binary exits or we are signalled.
rc=0
wait -n "${pids[@]}" || rc=$?
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[$i]}" 2>/dev/null; then
		echo "${names[$i]} exited (exit $rc); stopping the rest" >&2
	fi
done
((rc == 0)) && rc=1 # none should exit on its own
exit "$rc"
