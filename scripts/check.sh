#!/usr/bin/env bash
# scripts/check.sh: the static checks of `make test`, one per subcommand.
#
#   scripts/check.sh fmt             fail, listing them, if Go files are not gofmt'ed
#   scripts/check.sh generate        fail if `make generate` would change anything under graph/
#                                    (runs gqlgen on a copy of the tree: your files are not touched)
#   scripts/check.sh workflowcheck   Temporal's determinism check over ./workflows/..., when
#                                    workflowcheck is a `tool` in go.mod; otherwise says it is skipped
set -euo pipefail
umask 022

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"

in_git() { git rev-parse --is-inside-work-tree >/dev/null 2>&1; }

# NUL-separated list of the tree's files: what git tracks plus untracked files it does
# not ignore, as they are on disk (deleted files left out).
tree_files() {
	if in_git; then
		git ls-files -z -co --exclude-standard -- "$@" |
			while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done
	else
		find . \( -path ./.git -o -path ./.data -o -path ./.tools -o -path ./bin \) -prune -o \
			-type f -print0 | sed -z 's|^\./||'
	fi
}

check_fmt() {
	local gofmt bad
	gofmt="$(go env GOROOT)/bin/gofmt"
	bad=$(tree_files '*.go' | grep -z '\.go$' | xargs -0 -r "$gofmt" -l)
	if [[ -n $bad ]]; then
		echo "gofmt: these files need formatting (run: gofmt -w FILE):"
		printf '  %s\n' "${bad//$'\n'/$'\n'  }"
		return 1
	fi
	echo "gofmt: ok"
}

check_generate() {
	if [[ ! -f gqlgen.yml ]]; then
		echo "generate: skipped (no gqlgen.yml)"
		return 0
	fi
	local tmp
	tmp=$(mktemp -d /tmp/masscustom-gencheck.XXXXXX)
	GENCHECK_TMP=$tmp
	trap 'rm -rf "$GENCHECK_TMP"' EXIT
	tree_files | tar --null -T - -cf - | tar -C "$tmp" -xf -
	mkdir -p "$tmp/graph"
	cp -a "$tmp/graph" "$tmp/.graph-before"
	if ! (cd "$tmp" && go tool gqlgen generate); then
		echo "generate: gqlgen generate failed"
		return 1
	fi
	if ! diff -rq "$tmp/.graph-before" "$tmp/graph" >/dev/null; then
		echo "generate: graph/ is stale; \`make generate\` would change:"
		(cd "$tmp" && { diff -rq .graph-before graph || true; }) | awk '
			/^Files / { sub(/^\.graph-before\//, "graph/", $2); print "  changed: " $2; next }
			/^Only in graph/ { d = $3; sub(/:$/, "", d); print "  new:     " d "/" $4; next }
			/^Only in \.graph-before/ { d = $3; sub(/:$/, "", d); sub(/^\.graph-before/, "graph", d); print "  gone:    " d "/" $4; next }
			{ print "  " $0 }'
		echo "--- first lines of the difference ---"
		(cd "$tmp" && diff -ru .graph-before graph | head -n 60) || true
		echo "run \`make generate\` and commit the result"
		return 1
	fi
	if in_git; then
		local untracked
		untracked=$(git ls-files -o --exclude-standard -- graph/)
		if [[ -n $untracked ]]; then
			echo "generate: note: untracked files under graph/ (git add them before committing):"
			printf '  %s\n' "${untracked//$'\n'/$'\n'  }"
		fi
	fi
	echo "generate: ok (graph/ matches gqlgen's output)"
}

check_workflowcheck() {
	if [[ ! -d workflows ]]; then
		echo "workflowcheck: skipped (no ./workflows)"
		return 0
	fi
	if ! go tool -n workflowcheck >/dev/null 2>&1; then
		echo "workflowcheck: skipped (not a tool in go.mod; to enable it:" \
			"go get -tool go.temporal.io/sdk/contrib/tools/workflowcheck@VERSION)"
		return 0
	fi
	go tool workflowcheck ./workflows/...
	echo "workflowcheck: ok"
}

case "${1:-}" in
fmt) check_fmt ;;
generate) check_generate ;;
workflowcheck) check_workflowcheck ;;
*)
	echo "usage: scripts/check.sh fmt|generate|workflowcheck" >&2
	exit 2
	;;
esac
