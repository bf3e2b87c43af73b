# promo: one binary, one bbolt file. `make run` and `make test` are all a new
# user needs; see README.md.
GO      ?= go
BIN     ?= bin/promo
DB      ?= promo.db
ADDR    ?= :8080

.PHONY: build run test bench lint fuzz

build:
	$(GO) build -o $(BIN) .

run: build
	$(BIN) --db $(DB) serve --addr $(ADDR)

test: build
	$(GO) vet ./...
	$(GO) test -race -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
