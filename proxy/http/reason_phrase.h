#pragma once

#include <string_view>

namespace tether::http {

// The standard reason phrase of a status code (RFC 9110 15), empty for codes without one.
std::string_view reasonPhrase(int status);

}  // namespace tether::http
