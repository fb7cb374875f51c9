# The two commands: `make demo` and `make test`. Everything else is a part of them.
SHELL := /bin/bash
GO    ?= go
PKGS  ?= ./...
# The test database: DATABASE_URL when set, else found or started (scripts/pg-ensure.sh).
DB     = $(shell scripts/pg-ensure.sh)

.PHONY: demo test unit lint fmt-check vet golangci schemas-check generate generate-check bench bench-e2e tools db clean-db build

build:
	$(GO) build -o bin/passerelle ./cmd/passerelle

## demo: the hub end to end on the embedded defaults (PostgreSQL found or started).
demo: build
	@DATABASE_URL="$(DB)" PRISME_CLIENT_SECRET="$${PRISME_CLIENT_SECRET:-demo-$$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}" \
	  ./bin/passerelle demo --config config/examples/demo.yaml

## test: the whole suite: lint, generated code, schemas cross-check, unit, integration, fuzz seeds.
test: tools lint generate-check schemas-check unit

tools:
	@scripts/ensure-tools.sh

db:
	@echo "$(DB)"

unit:
	@url="$(DB)"; test -n "$$url" || { echo "no PostgreSQL (scripts/pg-ensure.sh failed)"; exit 1; }; \
	DATABASE_URL="$$url" $(GO) test -count=1 -timeout 20m $(PKGS)

lint: fmt-check vet golangci

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' ; git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

golangci:
	$(GO) tool golangci-lint run $(PKGS)

## schemas-check: ajv and the Go validator agree on every example; released schemas stay compatible.
schemas-check: tools
	$(GO) test -count=1 -run 'TestAjv|TestReleased|TestCheck' ./schemas/...

## generate: regenerate the GENESIS SOAP client from its WSDL.
generate:
	$(GO) generate ./connectors/genesis/...

generate-check:
	$(GO) test -count=1 -run TestGeneratedCodeIsCurrent ./connectors/genesis/...

## bench: the micro-benchmarks, 6 runs each, summarised by benchstat (bench/latest.txt),
## then the end-to-end ones (bench-e2e).
E2E_BENCH = IngestHalf|WholePath|GenesisToPrisme|ExportSubject|IntakeToPrisme|AppiBackfill
bench: bench-e2e
	@mkdir -p bench
	@DATABASE_URL="$(DB)" $(GO) test -run '^$$' -bench . -skip '$(E2E_BENCH)' -benchmem -count 6 -timeout 60m $(PKGS) | tee bench/latest.txt
	$(GO) tool benchstat bench/latest.txt

## bench-e2e: the end-to-end benchmarks, one iteration each (each is a whole data set).
bench-e2e:
	@mkdir -p bench
	@DATABASE_URL="$(DB)" $(GO) test -run '^$$' -bench '$(E2E_BENCH)' -benchtime 1x -timeout 120m ./pipeline/ ./pipeline/store/ ./internal/e2e/ ./connectors/cassiopee/ | tee bench/e2e.txt

clean-db:
	@if [ -d .pgdata/data ]; then \
	  runuser -u postgres -- $$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/pg_ctl -D .pgdata/data stop -m fast || true; \
	  rm -rf .pgdata; fi
