# promo: one binary, one bbolt file. A new user needs two commands:
#   make run    build, then serve the API on :8080 with ./promo.db
#   make lint   gofmt, vet and staticcheck (.ci/run runs it before make test)
#   make test   vet, the OpenAPI document's checks (Spectral, Portman and
#               newman against the built binary), the race-enabled test suite
#               (unit, API, CLI, browser and end-to-end tests against the
#               built binary) and short fuzz runs
GO       ?= go
BIN      ?= bin/promo
DB       ?= promo.db
ADDR     ?= :8080
# Short fuzz runs are bounded by a count of executions (about 5 s each
# here), not by time: a time bound trips a race in Go 1.26's fuzz
# coordinator (golang/go#75804) that fails a clean run with "context
# deadline exceeded" on a loaded machine. FUZZTIME, when set, replaces the
# counts (e.g. FUZZTIME=10m for `make fuzz`).
FUZZTIME ?=
SHELL    := /bin/bash

# package:FuzzTarget:executions for every fuzz target; `make fuzz` runs each long.
FUZZ := gen:FuzzParse:150000 bloom:FuzzRead:40000 store:FuzzReadImport:80000 store:FuzzIdempotencyKey:150000 \
        store:FuzzJSONEncoding:50000 store:FuzzIdemRecord:100000 store:FuzzEachAssignRow:50000 store:FuzzCheckText:70000 \
        httpapi:FuzzDecodeJSON:35000 httpapi:FuzzDecodeRedeemFast:30000 httpapi:FuzzIdempotencyHeader:40000 httpapi:FuzzClientAddr:40000

.PHONY: build run test fuzz-short fuzz bench bench-peers lint

build:
	$(GO) build -o $(BIN) .

run: build
	$(BIN) --db $(DB) serve --addr $(ADDR)

test: build
	bash .ci/install-chromium.sh
	$(GO) vet ./...
	# httpapi/openapi.json checked by tools that are not ours: Spectral's
	# lint, then Portman's contract and fuzz tests run by newman against
	# the built binary serving a temporary database (about a minute).
	bash .ci/install-api-tools.sh
	PROMO_BIN=$(abspath $(BIN)) bash .ci/api-contract.sh
	# Each run's output goes through .ci/testsummary: the packages' result
	# lines, failing tests' output, then how many ran and each skip's reason.
	set -o pipefail; PROMO_BIN=$(abspath $(BIN)) $(GO) test -json -race -timeout 20m ./... | $(GO) run ./.ci/testsummary "go test -race ./..."
	# The store's rules once more on bbolt alone (./... ran them behind the log).
	set -o pipefail; $(GO) test -json -count=1 ./store -args -engine=bolt | $(GO) run ./.ci/testsummary "store on bbolt alone"
	# And on etcd: an in-process cluster, the store shared as by many nodes (about 2 min).
	set -o pipefail; $(GO) test -json -count=1 -timeout 10m ./store -args -engine=etcd | $(GO) run ./.ci/testsummary "store on etcd"
	$(MAKE) --no-print-directory fuzz-short

fuzz-short:
	@for t in $(FUZZ); do \
	  IFS=: read -r pkg name count <<< "$$t"; budget=$${FUZZTIME:-$${count}x}; \
	  echo "fuzz $$pkg $$name for $$budget"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime 3s ./$$pkg 2>&1 | \
	    grep -v '^fuzz: elapsed'; test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

fuzz:
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=10m

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./gen ./bloom ./store
	$(BIN) bench

bench-peers: build  # PEERS_DIR=/path/to/shared/peers if it is not ../shared/peers
	bash .ci/bench-peers.sh

# gofmt, go vet and staticcheck (pinned, from the module proxy; see .ci/lint.sh).
lint:
	GO=$(GO) bash .ci/lint.sh
