# Entry points for humans and CI. Each target does its own set-up (deploy/setup.sh is idempotent).
.PHONY: setup format format-check check-layers lint build demo test test-release test-interop test-asan test-tsan check-deploy soak soak-smoke fuzz fuzz-smoke clean

setup:
	@bash deploy/setup.sh

build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release

demo: build
	bash deploy/run-demo.sh build/release

test: format-check check-layers lint test-release soak-smoke check-deploy fuzz-smoke test-asan test-tsan

test-release: setup
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release

# Only the interop tests (label `interop`): examples/ apps behind tether (tests/README.md). Part of test-release too.
test-interop: setup
	cmake --preset release >/dev/null
	cmake --build --preset release
	ctest --preset release -L interop

# yamllint, systemd-analyze verify, promtool and JSON checks on config/ and deploy/ (uses the release binary).
check-deploy: test-release
	TETHER_BIN=build/release/tether bash deploy/check.sh

# The soak (tests/soak/run, docs/soak.md) against the release build: the full run (>= 300,000 requests, up to
# 15 minutes) by command, a 5,000-request smoke run in `make test`.
soak: build
	bash tests/soak/run full

soak-smoke: test-release
	bash tests/soak/run smoke

# libFuzzer targets (clang-14, build/fuzz): `make fuzz` runs each for FUZZ_SECONDS, one after the other, keeping
# what it learns in build/fuzz/corpus; fuzz-smoke (CI) runs each for 20 s from a copy of the committed seeds.
# docs/fuzzing.md.
FUZZ_SECONDS ?= 60
fuzz: setup
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: setup
	bash tests/fuzz/run.sh 20 --smoke

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

# .clang-format over every C/C++ file the project owns: `format` rewrites them, `format-check` (CI) fails on a diff.
format: setup
	bash .ci/format.sh --fix

format-check: setup
	bash .ci/format.sh

# Every #include "folder/..." in proxy/ against the folder graph in docs/architecture.md, and each folder's CMake
# library against what it includes (.ci/check-layers.py).
check-layers:
	python3 .ci/check-layers.py

# clang-tidy-14 with .clang-tidy over proxy/ (the release build's compile_commands.json); any finding fails
# (WarningsAsErrors in .clang-tidy).
lint: setup
	cmake --preset release >/dev/null
	run-clang-tidy-14 -p build/release -j $$(nproc) -quiet \
	  -extra-arg=-Wno-unknown-warning-option '$(CURDIR)/proxy/' >build/lint.log 2>&1 \
	  || { sed 's/\x1b\[[0-9;]*m//g' build/lint.log | grep -E -A3 'warning:|error:'; echo 'lint: failed (build/lint.log)'; exit 1; }
	@echo "lint: proxy/ is clean"

clean:
	rm -rf build
