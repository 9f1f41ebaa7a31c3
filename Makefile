# A thin layer over tools/install-deps and CMake. The two commands a user needs:
#   make run    build, then run the agent on this machine (printing to stdout)
#   make test   build, then run every test
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?=

.PHONY: all deps deps-test build run agent once test test-asan fuzz bench format format-check clean

all: build

deps:
	@tools/install-deps

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The server and an agent for this machine (SIMULATE=N adds N simulated nodes).
run: build
	tools/run-local $(BUILD)

# The agent alone, printing to stdout (CONFIG=file to use one).
agent: build
	$(BUILD)/bin/cobs-agent $(if $(CONFIG),-c $(CONFIG))

once: build
	$(BUILD)/bin/cobs-agent --once

# The browser tests need Debian's chromium (installed here, not by `make run`).
test: deps-test build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

deps-test:
	@tools/install-deps browser

test-asan: deps deps-test
	cmake -S . -B $(ASAN_BUILD) -DCOBS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The libFuzzer target over the ingest decode+validate path, from fresh seeds, for
# FUZZ_SECONDS; a crash, leak or sanitizer report fails it (the input is kept in
# $(FUZZ_BUILD)/crash-*).
fuzz: deps
	@tools/install-deps fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCOBS_FUZZ=ON -DCOBS_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_wire_decode make_seeds
	rm -rf $(FUZZ_BUILD)/corpus && mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/tests/fuzz/make_seeds $(FUZZ_BUILD)/corpus
	cd $(FUZZ_BUILD) && ASAN_OPTIONS=detect_leaks=1 tests/fuzz/fuzz_wire_decode corpus \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 -print_final_stats=1

bench: build
	@tools/install-deps bench
	$(BUILD)/bench/run-benchmarks

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
