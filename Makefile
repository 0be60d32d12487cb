# Hexabase AI — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/hks
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
PG_BIN := $(shell command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/hks
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hks

.PHONY: k8s-bins
k8s-bins: ## Build the pinned kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok into the user cache dir (no-op when present)
	./tools/k8s/build.sh

# The web console: web/ is built by Vite into internal/console/dist/app,
# which hks embeds. npm ci runs when the lockfile changed, the build when
# a source changed.
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/package.json web/vite.config.ts web/tsconfig.json
CONSOLE := internal/console/dist/app/index.html
NODE_OK := $(shell node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null && command -v npm >/dev/null && echo yes)

.PHONY: console
console: $(CONSOLE) ## Build the web console into internal/console/dist/app (npm ci from the lockfile when it changed, then tsc + vite); needs Node.js 20.19+ and npm

web/node_modules/.package-lock.json: web/package-lock.json
	@[ "$(NODE_OK)" = yes ] || { echo "the console needs Node.js 20.19 or later and npm (see README)"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $@

$(CONSOLE): web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build

.PHONY: web-types
web-types: web/node_modules/.package-lock.json ## Regenerate the console's API types (web/src/api/schema.d.ts) from api/openapi.json
	cd web && npm run types

.PHONY: run
run: console build k8s-bins ## Start the whole platform on embedded defaults (data in ./.hks, API on 127.0.0.1:8080, metrics on 127.0.0.1:8090)
	./$(BIN) server --log-format text

# The packages whose tests run the pinned Kubernetes binaries: those that
# call testutil.NeedK8sBinaries, directly or through localtest.Workspace
# (with -short those tests skip), which includes the end-to-end tests of
# the binary in test/e2e.
E2E_PKGS = $(sort $(patsubst %/,./%,$(dir $(shell grep -rlE --include='*_test.go' 'testutil\.NeedK8sBinaries|localtest\.Workspace' internal test))))

.PHONY: test
test: pg-check k8s-bins vet verify test-unit test-e2e ## Run every test (what CI runs): vet, the gofmt check and the generated files (verify), then test-unit and test-e2e

.PHONY: test-unit
test-unit: pg-check ## Run every test that needs no Kubernetes binaries and no browser (go test -short), incl. the store suite on SQLite and a throwaway PostgreSQL
	$(GO) test -short -count=1 -timeout 10m ./...

.PHONY: test-e2e
test-e2e: console k8s-bins ## Run the end-to-end tests of the hks binary (test/e2e) and the other tests that run the Kubernetes binaries (workspace clusters)
	$(GO) test -count=1 -timeout 40m $(E2E_PKGS)

.PHONY: vet
vet: fmt-check ## Run go vet and the gofmt check
	$(GO) vet ./...

.PHONY: fmt-check
fmt-check: ## Fail if a Go file is not gofmt-formatted
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# pg-check warns when the PostgreSQL half of the store suite cannot run.
.PHONY: pg-check
pg-check:
	@if [ -z "$(PG_BIN)" ] && [ "$$HKS_TEST_POSTGRES" != "skip" ]; then \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  echo "!! PostgreSQL binaries (initdb, pg_ctl) are missing: the PostgreSQL half of the  !!"; \
	  echo "!! store conformance suite will FAIL. Install the Debian package 'postgresql'    !!"; \
	  echo "!! (.ci/run does), or set HKS_TEST_POSTGRES=skip to skip it knowingly.           !!"; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

.PHONY: test-race
test-race: k8s-bins ## Run the tests with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

.PHONY: bench
bench: ## Run the benchmarks (figures go to docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

.PHONY: fuzz
fuzz: ## Fuzz the untrusted-input parsers for a short while each
	$(GO) test -run '^$$' -fuzz FuzzCreateRequests -fuzztime 30s ./internal/tenancy/
	$(GO) test -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s ./internal/httpapi/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/cronjobs/

.PHONY: load
load: ## Load run: p50/p99 of authenticated GET and POST at a fixed rate, on SQLite and PostgreSQL
	$(GO) run ./hack/loadgen -rate 100 -duration 20s -login-rate 4 -backend sqlite
	$(GO) run ./hack/loadgen -rate 100 -duration 20s -login-rate 4 -backend postgres

.PHONY: densitybench
densitybench: build k8s-bins ## Density run (long, wants a quiet machine): workspaces held with most asleep, memory, sleep and wake times, idle CPU; DENSITY_FLAGS adds flags (e.g. -n 8 -awake 2 -idle 10s)
	$(GO) run ./hack/densitybench -hks $(BIN) $(DENSITY_FLAGS)

.PHONY: consolebench
consolebench: console build k8s-bins ## Console figures: JavaScript on first load, navigation to the workspace list, status change to the browser, hks memory per console connection; CONSOLE_FLAGS adds flags
	$(GO) run ./hack/consolebench -hks $(BIN) $(CONSOLE_FLAGS)

.PHONY: fnbench
fnbench: ## Functions figures: cold start p50/p95 and warm call per runtime, throughput, deploy to first call, 1,000 idle functions' memory; in-process platform, no workspace clusters; FNBENCH_FLAGS adds flags (e.g. -cold 30 -idle 1000)
	$(GO) run ./hack/fnbench $(FNBENCH_FLAGS)

.PHONY: aibench
aibench: k8s-bins ## Assistant figures: the platform's time per agent turn (model time excluded), GET …/diagnose over ~200 objects, first streamed token forwarded; a scripted model in-process; AIBENCH_FLAGS adds flags (e.g. -turns 200 -cpuprofile turn.pprof)
	$(GO) run ./hack/aibench $(AIBENCH_FLAGS)

.PHONY: openapi
openapi: ## Regenerate api/openapi.json from the route table, and the console's types from it
	$(GO) run ./cmd/hks openapi > api/openapi.json
	@if [ "$(NODE_OK)" = yes ]; then $(MAKE) --no-print-directory web-types; else echo "Node.js missing: web/src/api/schema.d.ts not regenerated (make web-types)"; fi

.PHONY: verify
verify: fmt-check ## Check generated files are up to date and code is formatted
	$(GO) run ./cmd/hks openapi | diff -u api/openapi.json - || (echo "api/openapi.json is stale: run make openapi"; exit 1)
	@$(MAKE) --no-print-directory web/node_modules/.package-lock.json
	cd web && npx openapi-typescript ../api/openapi.json -o node_modules/.schema.check.d.ts >/dev/null && \
	  diff -u src/api/schema.d.ts node_modules/.schema.check.d.ts || (echo "web/src/api/schema.d.ts is stale: run make web-types"; exit 1)

.PHONY: clean
clean: ## Remove build output (not the data dir)
	rm -rf bin internal/console/dist/app
