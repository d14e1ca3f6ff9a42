# Entry points for humans and CI. Each target does its own set-up (deploy/setup.sh is idempotent).
.PHONY: setup build demo test test-release test-asan test-tsan check-deploy clean

setup:
	@bash deploy/setup.sh

build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release

demo: build
	bash deploy/run-demo.sh build/release

test: test-release check-deploy test-asan test-tsan

test-release: setup
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release

# yamllint, systemd-analyze verify, promtool and JSON checks on config/ and deploy/ (uses the release binary).
check-deploy: test-release
	TETHER_BIN=build/release/tether bash deploy/check.sh

test-asan: setup
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ctest --preset asan

# ThreadSanitizer over what runs on several threads: multi-worker, reload, admin and drain tests, and the admin,
# log and metrics unit tests (the filter is in the tsan test preset).
test-tsan: setup
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan
	ctest --preset tsan

clean:
	rm -rf build
