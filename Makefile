# basalt: the two set-up commands are `make run` and `make test`.
JOBS ?= 2
PORT ?= 11211
RELEASE_DIR := build/release
ASAN_DIR := build/asan
TSAN_DIR := build/tsan
# ThreadSanitizer maps its shadow memory at fixed addresses, which some kernels'
# address-space randomisation (vm.mmap_rnd_bits > 28) breaks. setarch -R runs
# the tests without randomisation; where the sandbox forbids it, run them as is.
NO_ASLR := $(shell setarch "$$(uname -m)" -R true >/dev/null 2>&1 && echo setarch "$$(uname -m)" -R)

.PHONY: run test build deps asan tsan fuzz format format-check clean

deps:
	@sh scripts/install-deps.sh

build: deps
	cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(RELEASE_DIR) -j$(JOBS)

run: build
	./$(RELEASE_DIR)/src/basalt -l 127.0.0.1 -p $(PORT)

asan: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DBASALT_SANITIZE=ON -DBASALT_WERROR=ON
	cmake --build $(ASAN_DIR) -j$(JOBS)

# The whole suite under ASan+UBSan, then the threaded subset under TSan.
test: asan
	cd $(ASAN_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 300
	$(MAKE) --no-print-directory tsan

# The TSan build (CMakePresets.json, preset tsan) and the tests labelled "threaded":
# executor, inbox, and the integration suites against the wouldblock engine.
tsan: deps
	cmake --preset tsan
	cmake --build $(TSAN_DIR) -j$(JOBS)
	cd $(TSAN_DIR) && TSAN_OPTIONS="halt_on_error=0 $(TSAN_OPTIONS)" $(NO_ASLR) \
		ctest -L threaded --output-on-failure -j$(JOBS) --timeout 300

# Runs every fuzz target for FUZZ_SECONDS on a working copy of its corpus;
# new finds stay in build/fuzz/corpus/NAME (copy the good ones into tests/fuzz/corpus).
# The conn target (whole connection path) uses the binary and text dictionaries together.
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
FUZZ_TARGETS ?= binary record text conn sasl

fuzz: deps
	CC=clang-14 cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DBASALT_SANITIZE=ON -DBASALT_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; cp -n tests/fuzz/corpus/$$t/* $(FUZZ_DIR)/corpus/$$t/; \
	    dict=""; if [ -f tests/fuzz/$$t.dict ]; then dict="-dict=tests/fuzz/$$t.dict"; fi; \
	    if [ $$t = conn ]; then cat tests/fuzz/binary.dict tests/fuzz/text.dict >$(FUZZ_DIR)/conn.dict; \
	        dict="-dict=$(FUZZ_DIR)/conn.dict"; fi; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    ./$(FUZZ_DIR)/tests/fuzz/fuzz_$$t $$dict -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 $(FUZZ_DIR)/corpus/$$t; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
