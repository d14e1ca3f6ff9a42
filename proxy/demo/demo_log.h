#pragma once

#include <string_view>

namespace tether::demo {

// Writes "<UTC timestamp> [<request id>] <message>" to stdout as one flushed line, so a
// test or a person tailing the output sees each step as it happens.
void logLine(std::string_view request_id, std::string_view message);

}  // namespace tether::demo
