# BNDMR collection hub. Every target works on a fresh Debian 12 machine with Go.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin
RUN       := .run
SERVICES  := ingest validator pseudonymisation loader ack indicators hub bndmrctl
MODULES   := ./pkg/... ./pkg/topology/... ./pseudonymisation/... ./services/... ./tools/mutate/...
DEB_PKGS  := clickhouse-server clickhouse-client dovecot-imapd dovecot-lmtpd libxml2-dev libxml2-utils pkg-config postfix openssl time zookeeper chromium prometheus

# The servers `make up` starts, as the tests and the demo reach them.
# The CI-SIS kit: ../shared/ci-sis beside the repository, else beside the
# repository this one was cloned from (a clone made elsewhere, e.g. in /tmp).
SHARED_KIT := $(abspath ../shared/ci-sis)
ifeq ($(wildcard $(SHARED_KIT)),)
CLONED_FROM := $(shell git config --get remote.origin.url 2>/dev/null)
ifneq ($(wildcard $(CLONED_FROM)/../shared/ci-sis),)
SHARED_KIT := $(abspath $(CLONED_FROM)/../shared/ci-sis)
endif
endif
export CISIS_KIT            ?= $(SHARED_KIT)
export BNDMR_TEST_CLICKHOUSE ?= clickhouse://127.0.0.1:19000/default
export BNDMR_TEST_IMAP      ?= 127.0.0.1:10143
export BNDMR_TEST_LMTP      ?= 127.0.0.1:10024
export BNDMR_E2E_SMTP       ?= 127.0.0.1:10025
export BNDMR_E2E_IMAP       ?= 127.0.0.1:10143
export BNDMR_TEST_CH_CLUSTER ?= clickhouse://127.0.0.1:19101,clickhouse://127.0.0.1:19102,clickhouse://127.0.0.1:19103,clickhouse://127.0.0.1:19104
export BNDMR_TEST_CLICKHOUSE_HTTP ?= http://127.0.0.1:18123
# chDB: the ClickHouse version production runs, in-process (make deps fetches it).
export BNDMR_CHDB_LIB       ?= $(abspath $(RUN))/chdb/libchdb.so

FUZZTIME ?= 30s
TEST_TIMEOUT ?= 15m

.PHONY: help deps chdb up down up-cluster down-cluster test-cluster up-topology down-topology test-topology chaos restore-drill build test test-unit fuzz demo lint bench clean k8s screenshot mutate

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## install the Debian packages the hub and its tests need (idempotent)
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all Debian packages present"; fi
	@$(GO) mod download -C pkg && $(GO) mod download -C pseudonymisation && $(GO) mod download -C services
	@GOWORK=off $(GO) mod download -C deploy/k8s
	@scripts/chdb.sh

chdb: ## fetch chDB (ClickHouse 26.7 as a library) into .run/chdb for the compatibility tests (idempotent)
	@scripts/chdb.sh

up: ## start ClickHouse, Dovecot and Postfix on loopback, state under .run/ (idempotent)
	@scripts/up.sh
	@scripts/postfix.sh start

down: ## stop them (idempotent)
	@scripts/down-topology.sh || true
	@scripts/down-cluster.sh || true
	@scripts/postfix.sh stop || true
	@scripts/down.sh

up-cluster: ## ZooKeeper + four ClickHouse servers on loopback (clusters bndmr 1×2, bndmr_2x1, bndmr_2x2), state under .run/cluster
	@scripts/up-cluster.sh

down-cluster: ## stop them
	@scripts/down-cluster.sh

test-cluster: deps up up-cluster ## the ClickHouse cluster tests alone
	cd pkg && $(GO) test -count=1 -run TestCluster ./store/

up-topology: deps up up-cluster build ## the prod overlay on loopback: NATS cluster of 3, every service as its own process(es), ClickHouse 2×2; state under .run/topology
	@scripts/up-topology.sh

down-topology: ## stop it
	@scripts/down-topology.sh

test-topology: up-topology ## the end-to-end scenario through the production topology, compared with the all-in-one hub
	cd services && BNDMR_TOPOLOGY=$(abspath $(RUN))/topology $(GO) test -count=1 -timeout 10m -run TestTopology ./internal/topology/

# The fault suite (docs/reliability.md). Not part of `make test`: with the
# issue's durations (two 10-minute outages) it takes about an hour; set
# BNDMR_CHAOS_OUTAGE=1m BNDMR_CHAOS_MAILS=100 ... for a quick run.
CHAOS_TIMEOUT ?= 120m
CHAOS_RUN     ?= TestChaos
chaos: up-topology ## the fault suite through the production topology (long: see docs/reliability.md)
	set -o pipefail; cd services && BNDMR_CHAOS=$(abspath $(RUN))/topology $(GO) test -count=1 -v -timeout $(CHAOS_TIMEOUT) -run '$(CHAOS_RUN)' ./internal/chaos/ | tee $(abspath $(RUN))/chaos.log | grep -E '^(=== RUN|--- |\s+--- |PASS|FAIL|ok)|RESULT|chaos_test|cases_test'

# The build version every binary prints with --version (services/internal/buildinfo).
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION_VAR := github.com/bndmr/hub/services/internal/buildinfo.version

build: ## every service, bndmrctl and the all-in-one hub into bin/
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do $(GO) build -ldflags "-X $(VERSION_VAR)=$(VERSION)" -o $(BIN)/$$s ./services/$$s || exit 1; done
	@echo "build: $(addprefix $(BIN)/,$(SERVICES))"

test: deps up up-cluster ## unit + integration tests against real ClickHouse, Dovecot, Postfix, embedded NATS
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(MODULES)
	cd deploy/k8s && GOWORK=off $(GO) test -count=1 ./...
	@$(MAKE) --no-print-directory test-topology

test-unit: chdb ## tests that need no server (chDB runs in-process)
	BNDMR_TEST_CLICKHOUSE= BNDMR_TEST_IMAP= BNDMR_E2E_SMTP= BNDMR_E2E_IMAP= BNDMR_TEST_CH_CLUSTER= BNDMR_TEST_CLICKHOUSE_HTTP= $(GO) test -count=1 $(MODULES)

# Exploration is kept out of `make test`: a gate must give the same answer
# twice, and new random inputs do not. `make test` runs every target's
# corpus (seeds and every input found so far, testdata/fuzz/) as unit tests.
fuzz: ## explore every fuzz target (FUZZTIME each, default 30s); a finding is kept under testdata/fuzz/: commit it with the fix
	@scripts/fuzz.sh $(FUZZTIME)

# Mutation testing (tools/mutate, mutate/packages.txt). Not part of `make
# test`: it rebuilds and reruns a package's tests once per mutant, one at a
# time, about 30 minutes with the sampling of mutate/packages.txt. Survivors
# judged harmless go to mutate/equivalent.txt with a reason. MUTATE_FLAGS
# passes flags: -pkg pkg/mssante, -n 0 (every mutant), -only REGEXP, -list.
MUTATE_FLAGS ?=
mutate: ## mutation testing of pseudonymisation, mssante, validator, schematron, indicators (needs make up; ~30 min)
	@mkdir -p build
	set -o pipefail; $(GO) run ./tools/mutate $(MUTATE_FLAGS) | tee build/mutate.txt

demo: deps up build ## the main job end to end on the embedded defaults
	@scripts/demo.sh

restore-drill: deps up build ## back up ClickHouse and JetStream after a hub run with MDNs pending, restore into an empty database and NATS store, compare figures and pending messages
	@scripts/restore-drill.sh

lint: ## gofmt check and go vet on every module
	@out=$$(gofmt -l pkg pseudonymisation services schemas deploy tools); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(MODULES) ./schemas/...
	cd deploy/k8s && GOWORK=off $(GO) vet ./...

k8s: ## render every kustomize overlay into build/k8s
	cd deploy/k8s && GOWORK=off $(GO) run ./cmd/render -out ../../build/k8s

bench: deps up build ## benchmarks that print numbers (long)
	@scripts/bench.sh

screenshot: build ## a PNG of the indicators dashboard (headless Chromium), from the demo database
	@scripts/screenshot.sh

clean: down ## remove binaries and local server state
	rm -rf $(BIN) $(RUN)
