# The two commands in the README (`make quickstart`, `make test`) start here.
# Builds: build/ (release, -O2), build-asan/ (ASan+UBSan, what the tests run),
# build-fuzz/ (clang libFuzzer targets).
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
CMAKE ?= cmake

.PHONY: all deps build asan test quickstart bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build build -j $(JOBS)

asan: deps
	@$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKEEL_SANITIZE=ON >/dev/null
	@$(CMAKE) --build build-asan -j $(JOBS)

# The whole suite under AddressSanitizer + UBSan.
test: asan
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

quickstart: build
	@bash examples/quickstart/run.sh build/keel

bench: build
	@bash bench/run.sh build

fuzz: deps
	@CC=clang $(CMAKE) -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DKEEL_FUZZ=ON -DKEEL_SANITIZE=ON >/dev/null
	@$(CMAKE) --build build-fuzz -j $(JOBS)
	@bash tests/fuzz/run.sh build-fuzz $${FUZZ_SECONDS:-60}

clean:
	rm -rf build build-asan build-fuzz
