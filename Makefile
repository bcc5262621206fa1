# The usual entry points. `make test` and `make demo` set up everything they
# need (scripts/bootstrap), so a fresh Debian/Ubuntu machine needs nothing else.
BUILD ?= build
.PHONY: all build test test-asan test-valgrind fuzz fuzz-smoke demo down bench clean format

all: build

build:
	@scripts/bootstrap
	@cmake -S . -B $(BUILD) -G Ninja >/dev/null
	@ninja -C $(BUILD)

test:
	@scripts/test

test-asan:
	@AMLRISK_SANITIZE=1 AMLRISK_BUILD_DIR=build-asan scripts/test

test-valgrind:
	@AMLRISK_VALGRIND=1 scripts/test

fuzz:
	@scripts/fuzz

# what CI runs: every corpus replayed, then each harness fuzzed briefly
fuzz-smoke:
	@FUZZ_SECONDS=15 scripts/fuzz

demo:
	@scripts/demo

down:
	@scripts/stack down

bench: build
	@scripts/bench

clean:
	rm -rf $(BUILD) build-asan build-fuzz

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')
