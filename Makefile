# The service's everyday commands. `make test` is what CI runs.

GO ?= go
# sudo only when not root: CI and these machines run as root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: build run test generate ensure-redis

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/reservation ./cmd/reservation

run: build
	./bin/reservation

test: ensure-redis ensure-chromium lint-spec
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 10m ./...
	@$(MAKE) --no-print-directory fuzz-short

generate:
	$(GO) generate ./...

# The Redis tests start their own throwaway redis-server.
ensure-redis:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; }

# The docs page's test renders GET /docs in headless Chromium.
ensure-chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# The docs page's renderer, vendored in $(REDOC_DIR) (its README): `make
# vendor-redoc` replaces it with the standalone bundle of REDOC_VERSION,
# from the package that `npm pack` fetches, with its licence and VERSION.
REDOC_VERSION ?= 3.0.1
REDOC_DIR = adapters/httpapi/redoc

.PHONY: ensure-chromium vendor-redoc

vendor-redoc:
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && \
	npm pack --silent --pack-destination "$$tmp" redoc@$(REDOC_VERSION) >/dev/null && \
	tar -xzf "$$tmp/redoc-$(REDOC_VERSION).tgz" -C "$$tmp" && \
	cp "$$tmp/package/bundles/redoc.standalone.js" "$$tmp/package/LICENSE" $(REDOC_DIR)/ && \
	echo $(REDOC_VERSION) > $(REDOC_DIR)/VERSION

# The spec's linter: Spectral with the spectral:oas ruleset (.spectral.yaml),
# failing on any error or warning. tools/spectral/package-lock.json pins it
# and everything it pulls in; `npm ci` installs exactly that into
# bin/spectral, again only when tools/spectral changes. Install scripts stay
# off: Spectral needs none, and the only one among its packages reports the
# install to an analytics service.
SPECTRAL = bin/spectral/node_modules/.bin/spectral

.PHONY: lint-spec ensure-npm

lint-spec: $(SPECTRAL)
	$(SPECTRAL) lint --ruleset .spectral.yaml --fail-severity=warn api/openapi.yaml

$(SPECTRAL): tools/spectral/package.json tools/spectral/package-lock.json | ensure-npm
	mkdir -p bin/spectral
	cp tools/spectral/package.json tools/spectral/package-lock.json bin/spectral/
	npm ci --prefix bin/spectral --ignore-scripts --no-audit --no-fund
	touch $@

ensure-npm:
	@command -v npm >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y nodejs npm; }

# Benchmarks (issue 3): the Go benchmarks, then the load run of the built
# service against throwaway Redis servers (cmd/loadbench): the sale of an
# event by concurrent Go clients, then the wrk scenarios against their
# ceilings. It prints a summary and writes docs/benchmarks.md and
# docs/benchmarks.svg. Valgrind's callgrind counts Redis's instructions for
# the holds (BenchmarkInstructions in adapters/redisstore). LOADBENCH_FLAGS
# adds flags of loadbench, e.g. LOADBENCH_FLAGS='-rounds 1 -out "" -chart ""'
# for a quick look that writes no docs (`bin/loadbench -h` lists them).
GOBENCH = $(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./domain ./adapters/...
LOADBENCH_FLAGS ?=

.PHONY: bench ensure-wrk ensure-valgrind

bench: build ensure-redis ensure-wrk ensure-valgrind
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/benchceiling ./cmd/benchceiling
	$(GO) build -o bin/loadbench ./cmd/loadbench
	$(GOBENCH) > bin/gobench.txt || { cat bin/gobench.txt; exit 1; }
	cat bin/gobench.txt
	bin/loadbench -gobench bin/gobench.txt -gobenchcmd "$(GOBENCH)" $(LOADBENCH_FLAGS)

ensure-wrk:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }

ensure-valgrind:
	@command -v valgrind >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y valgrind; }

# Hostile input and faults (issue 4). Every fuzz target (a func Fuzz... in a
# _test.go file) runs for FUZZTIME_SHORT within `make test`, and for
# FUZZTIME in `make fuzz`; minimizing a new input is capped, so that it
# cannot eat a short run. `make soak` runs the history and fault tests of
# tests/ with larger workloads and more faults (SOAK=1).
# The short run is a count of inputs, not a duration: with a duration, Go
# 1.26's fuzzer may fail a target with a bare "context deadline exceeded"
# as the time runs out (golang/go#75804, fixed in Go 1.27; seen here once).
# 10000 inputs take about 3 s for an HTTP target on these 2-core machines;
# with 21 targets, each also building its package for fuzzing, the short
# run takes about 2.5 minutes of `make test`'s 10.
FUZZTIME_SHORT ?= 10000x
FUZZTIME ?= 2m
FUZZ_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Fuzz' .)))

.PHONY: fuzz fuzz-short soak

fuzz-short:
	@$(call fuzz-each,$(FUZZTIME_SHORT))

fuzz:
	@$(call fuzz-each,$(FUZZTIME))

fuzz-each = for pkg in $(FUZZ_PKGS); do \
	for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/p' $$pkg*_test.go); do \
		echo "fuzz $$pkg $$target for $(1)"; \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(1) -fuzzminimizetime 1s $$pkg || exit 1; \
	done; done

soak: ensure-redis
	SOAK=1 $(GO) test -race -count=1 -timeout 60m -v ./tests/...
