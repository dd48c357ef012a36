# basalt: the two set-up commands are `make run` and `make test`.
JOBS ?= 2
PORT ?= 11211
RELEASE_DIR := build/release
ASAN_DIR := build/asan

.PHONY: run test build deps asan fuzz format format-check clean

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

test: asan
	cd $(ASAN_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 300

# Runs every fuzz target for FUZZ_SECONDS on a working copy of its corpus;
# new finds stay in build/fuzz/corpus/NAME (copy the good ones into tests/fuzz/corpus).
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
FUZZ_TARGETS ?= binary record

fuzz: deps
	CC=clang-14 cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DBASALT_SANITIZE=ON -DBASALT_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; cp -n tests/fuzz/corpus/$$t/* $(FUZZ_DIR)/corpus/$$t/; \
	    dict=""; if [ -f tests/fuzz/$$t.dict ]; then dict="-dict=tests/fuzz/$$t.dict"; fi; \
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
