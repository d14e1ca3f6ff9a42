#pragma once

#include <cstdint>
#include <string>

namespace tether::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close). Another
// process may grab it before use; prefer letting servers bind port 0 where they can.
uint16_t freePort();

// A new empty directory under $TMPDIR (or /tmp), e.g. for generated configs. Not removed.
std::string tempDir();

}  // namespace tether::testing
