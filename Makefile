# Entry points for humans and CI. Each target does its own set-up (deploy/setup.sh is idempotent).
.PHONY: setup build demo test test-release test-asan clean

setup:
	@bash deploy/setup.sh

build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release

demo: build
	bash deploy/run-demo.sh build/release

test: test-release test-asan

test-release: setup
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release

test-asan: setup
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ctest --preset asan

clean:
	rm -rf build
