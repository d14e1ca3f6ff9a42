#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tether::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close). Another
// process may grab it before use; prefer letting servers bind port 0 where they can.
uint16_t freePort();

// A new empty directory under $TMPDIR (or /tmp), e.g. for generated configs. Not removed.
std::string tempDir();

// True under CI=true (what CI runners set): there a runtime a test needs (go, node, dotnet, chromium) is part of the
// set-up, and its absence is a broken set-up rather than a reason to skip.
bool inCi();

}  // namespace tether::testing

// For a test that needs a runtime this machine may lack: `missing_text` says why it cannot run here ("" when it can).
// When it is not empty, skips the test with that text, except under CI=true (inCi()), where it fails it. Returns
// from the calling function, so it goes first in a TEST body or in a fixture's SetUp (gtest then runs no body).
#define TETHER_REQUIRE_RUNTIME(missing_text)                    \
  do {                                                          \
    const std::string tether_missing_ = (missing_text);         \
    if (!tether_missing_.empty()) {                             \
      if (::tether::testing::inCi()) FAIL() << tether_missing_; \
      GTEST_SKIP() << tether_missing_;                          \
    }                                                           \
  } while (false)
