#!/usr/bin/env bash
# scripts/test.sh: `make test` and `make bench`.
#
#   scripts/test.sh test    install, up test, then gofmt, go vet, generate staleness,
#                           go test ./... (ORCH_REQUIRE_STACK=1), workflowcheck
#   scripts/test.sh bench   install, up test, then go test -run '^$' -bench "$BENCH" ./...
#
# The test stack is always stopped at the end (`scripts/stack.sh down test`), also on failure
# or Ctrl-C, and the exit code is the failing step's.
#
# Settings (environment; make passes them through):
#   TESTFLAGS    extra flags for go test, e.g. TESTFLAGS='-run TestOrder -v' or '-race'
#   BENCH        benchmark pattern (default .)
#   BENCHFLAGS   extra flags for the benchmarks, e.g. BENCHFLAGS='-benchtime=1x -benchmem'
set -euo pipefail
umask 022

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"

mode="${1:-test}"
case "$mode" in test | bench) ;; *) echo "usage: scripts/test.sh test|bench" >&2; exit 2 ;; esac

t0=$SECONDS
step="start"
done_steps=()

run_step() {
	step=$1
	shift
	printf '\n==> %s\n' "$step"
	"$@"
	done_steps+=("$step")
}

finish() {
	local rc=$?
	trap - EXIT INT TERM HUP
	printf '\n==> stopping the test stack\n'
	scripts/stack.sh down test || echo "warning: scripts/stack.sh down test failed" >&2
	local took=$((SECONDS - t0))
	if ((rc == 0)); then
		local list="" s
		for s in "${done_steps[@]}"; do list+="${list:+, }$s"; done
		printf '\n==> make %s: PASSED in %ss (%s)\n' "$mode" "$took" "$list"
	else
		printf '\n==> make %s: FAILED at step "%s" (exit %s) after %ss\n' "$mode" "$step" "$rc" "$took"
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

run_step "install" scripts/stack.sh install
run_step "up test" scripts/stack.sh up test
eval "$(scripts/stack.sh env test)"
export ORCH_REQUIRE_STACK=1
echo "DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS"

# shellcheck disable=SC2086 # TESTFLAGS/BENCHFLAGS are word lists on purpose
if [[ $mode == test ]]; then
	run_step "gofmt" scripts/check.sh fmt
	run_step "go vet" go vet ./...
	run_step "generate up to date" scripts/check.sh generate
	# One package at a time: the packages share one stack, and the order journeys
	# of gateway/server and workflows each declare the supplier, factory and
	# carrier their orders must go to; side by side, one's would win the other's.
	run_step "go test" go test -p 1 -count=1 -timeout 20m ${TESTFLAGS:-} ./...
	run_step "workflowcheck" scripts/check.sh workflowcheck
else
	run_step "go test -bench" go test -run '^$' -bench "${BENCH:-.}" ${BENCHFLAGS:-} ./...
fi
