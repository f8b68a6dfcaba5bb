# trace-exporter: a Kong Gateway external plugin (Go, go-pdk) exporting traces.
#
#   make build    the plugin binary: bin/trace-exporter
#   make test     everything CI runs: vet, unit, emulator, end-to-end (Jaeger) and fault tests
#   make demo     the plugin under the Kong emulator proxying real HTTP, traces printed as they arrive
#   make bench    side-by-side benchmarks (see BENCHMARKS.md)
#   make legacy   bin/trace-exporter.so for Kong 2.x's go-pluginserver (Kong 3.x: use the binary)
#
# Only Go is needed: Jaeger is built from the Go module proxy into .cache/ (git-ignored) on first use.

GO        ?= go
BIN       := bin/trace-exporter
JAEGER    := .cache/bin/jaeger
TEST_TIMEOUT ?= 60m
BENCH_TIME   ?= 1s
BENCH_COUNT  ?= 3

.PHONY: build test vet unit jaeger bench demo legacy clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) .

jaeger:
	tools/jaeger/build.sh

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

test: vet jaeger build
	JAEGERTEST_BUILD=0 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Kong 2.x only: go-pluginserver (MsgPack, removed in Kong 3.0) loads Go plugins
# built with -buildmode=plugin; see tools/legacy/main.go.
legacy:
	CGO_ENABLED=1 $(GO) build -buildmode=plugin -o bin/trace-exporter.so ./tools/legacy

# bench: every benchmark BENCH_COUNT times (peers side by side in the same
# run), then the memory bound under overload, then BENCHMARKS.md's generated
# section (test/bench/report) from .cache/bench.txt and .cache/rss.txt. The
# plugin server benchmarks run in a test process of their own: the emulator
# runs in it, and must not inherit the heap and goroutines of the in-process
# benchmarks before them.
SERVER_BENCH := ^Benchmark(PluginServer|GatewayLoad)$$
bench: build
	@mkdir -p .cache
	@echo "# started $$(date -u '+%Y-%m-%d %H:%M UTC'), load average $$(cut -d' ' -f1-3 /proc/loadavg)" > .cache/bench.txt
	bash -o pipefail -c "$(GO) test -run '^$$' -bench . -skip '$(SERVER_BENCH)' -benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) -timeout 60m ./... | tee -a .cache/bench.txt"
	bash -o pipefail -c "$(GO) test -run '^$$' -bench '$(SERVER_BENCH)' -benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) -timeout 60m ./test/bench | tee -a .cache/bench.txt"
	@echo "# ended $$(date -u '+%Y-%m-%d %H:%M UTC'), load average $$(cut -d' ' -f1-3 /proc/loadavg)" >> .cache/bench.txt
	bash -o pipefail -c "$(GO) test -count=1 -run '^TestPluginServerRSSUnderOverload$$' -v ./test/bench | tee .cache/rss.txt"
	$(GO) run ./test/bench/report -bench .cache/bench.txt -rss .cache/rss.txt -out BENCHMARKS.md \
		-command "make bench BENCH_COUNT=$(BENCH_COUNT) BENCH_TIME=$(BENCH_TIME)"

# make demo [BACKEND=jaeger]: kong.yml through the emulator on 127.0.0.1:8000,
# echo upstream on :9000, traces printed (test/demo; -h for its flags).
BACKEND ?= sink
demo: build
	$(GO) build -o bin/demo ./test/demo
	bin/demo -backend $(BACKEND) -plugin $(BIN)

clean:
	rm -rf bin .cache/bench.txt
