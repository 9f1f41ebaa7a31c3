# A thin layer over tools/install-deps and CMake. The two commands a user needs:
#   make run    build, then run the agent on this machine (printing to stdout)
#   make test   build, then run every test
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?=

.PHONY: all deps build run agent once test test-asan bench format format-check clean

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

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCOBS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

bench: build
	@tools/install-deps bench
	$(BUILD)/bench/run-benchmarks

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
