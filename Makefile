# The two commands that matter: `make run` (everything, on this machine) and `make test`.
# Details live in scripts/: stack.sh (Postgres, Redis, Temporal), run.sh, test.sh, check.sh.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Go from /usr/local/go when it is not on PATH; the Temporal CLI from .tools/.
export PATH := $(PATH):/usr/local/go/bin:$(CURDIR)/.tools
GO ?= go

# Passed to scripts/test.sh: make test TESTFLAGS='-run TestPlaceOrder -v'
TESTFLAGS ?=
BENCH ?= .
BENCHFLAGS ?=
export TESTFLAGS BENCH BENCHFLAGS

MAINS := ./gateway ./worker ./cmd/seed $(if $(wildcard cmd/demo/*.go),./cmd/demo) $(if $(wildcard cmd/load/*.go),./cmd/load)

.PHONY: help run test bench build generate check-generate fmt-check vet workflowcheck \
	demo demo-leasing load chaos stop clean install up down status

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## install, start the dev stack, seed, run worker + gateway (Ctrl-C stops)
	@scripts/run.sh

test: ## install, start the test stack, gofmt, vet, generate check, go test, workflowcheck
	@scripts/test.sh test

bench: ## benchmarks against the test stack (BENCH=pattern BENCHFLAGS=...)
	@scripts/test.sh bench

build: ## build bin/gateway, bin/worker, bin/seed (and bin/demo once cmd/demo exists)
	@mkdir -p bin
	$(GO) build -o bin/ $(MAINS)

generate: ## regenerate graph/ with gqlgen
	$(GO) tool gqlgen generate

check-generate: ## fail if `make generate` would change graph/ (works on a copy)
	@scripts/check.sh generate

fmt-check: ## fail, listing files, if anything is not gofmt'ed
	@scripts/check.sh fmt

vet: ## go vet ./...
	$(GO) vet ./...

workflowcheck: ## Temporal determinism check of ./workflows (when it is a go.mod tool)
	@scripts/check.sh workflowcheck

demo: ## run bin/demo against the dev stack (needs `make run` in another terminal)
	@if [ -d cmd/demo ]; then \
		$(GO) build -o bin/demo ./cmd/demo && \
		eval "$$(scripts/stack.sh env dev)" && \
		bin/demo; \
	else \
		echo "demo: not built yet (./cmd/demo does not exist)"; \
	fi

demo-leasing: ## play a lessee's days of leasing (draft, late reading, finalizing, credit note, PDFs, prepaid hours, a plan change) against `make run`
	$(GO) build -o bin/demo ./cmd/demo
	@eval "$$(scripts/stack.sh env dev)" && bin/demo -leasing

load: ## drive JOURNEYS (50) order journeys, CONCURRENCY (16) at a time, over GATEWAYS (1) of a running `make run`, and report
	$(GO) build -o bin/load ./cmd/load
	@eval "$$(scripts/stack.sh env dev)" && redis="$${REDIS_URL#*//}" && redis="$${redis%%/*}" && \
		pids="$$(pgrep -d, -f "^bin/(gateway|worker)|redis-server $$redis|temporal server start-dev .*--port $${TEMPORAL_ADDRESS##*:}" || true)" && \
		bin/load -journeys $(or $(JOURNEYS),50) -concurrency $(or $(CONCURRENCY),16) -gateways $(or $(GATEWAYS),1) -cpu "$$pids"

chaos: ## JOURNEYS (50) at CONCURRENCY (16) over GATEWAYS (1) and WORKERS (1) of its own while workers, gateways, Postgres, Redis and Temporal fail; then checks
	scripts/stack.sh install
	$(MAKE) --no-print-directory build
	$(GO) build -o bin/chaos ./cmd/chaos
	scripts/stack.sh up dev
	@eval "$$(scripts/stack.sh env dev)" && bin/seed >/dev/null && \
		HTTP_ADDR=$${CHAOS_ADDR:-127.0.0.1:8180} bin/chaos -journeys $(or $(JOURNEYS),50) -concurrency $(or $(CONCURRENCY),16) \
		-gateways $(or $(GATEWAYS),1) -workers $(or $(WORKERS),1) $(CHAOS_FLAGS)

install: ## install Postgres, redis-server (apt) and the Temporal CLI (.tools/) if missing
	@scripts/stack.sh install

up: ## start the dev stack only (no gateway/worker)
	@scripts/stack.sh install
	@scripts/stack.sh up dev

status: ## what runs, for the dev and the test stack
	@scripts/stack.sh status

stop: ## stop the dev stack (what scripts/stack.sh started)
	@scripts/stack.sh down dev

down: stop

clean: ## stop both stacks, remove .data/, the test folders and bin/
	@scripts/stack.sh clean
	rm -rf bin
