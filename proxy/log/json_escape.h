#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tether::log {

// Appends `text` as the inside of a JSON string (no surrounding quotes). Escapes '"', '\\' and control
// characters (\n, \r, \t short forms, others as \u00XX). Valid UTF-8 is copied as is; each maximal invalid
// subpart of an ill-formed sequence becomes \ufffd (the same replacement Unicode and Python recommend), so
// the output is always valid UTF-8 whatever bytes a client sent us.
void appendJsonEscaped(std::string& out, std::string_view text);

// Length of the longest prefix of `text` made of plain ASCII (0x20..0x7f except '"' and '\\'), which
// appendJsonEscaped copies unchanged.
size_t plainAsciiPrefix(std::string_view text);

}  // namespace tether::log
