# basalt: the two set-up commands are `make run` and `make test`.
JOBS ?= 2
PORT ?= 11211
RELEASE_DIR := build/release
ASAN_DIR := build/asan

.PHONY: run test build deps asan format format-check clean

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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
