#pragma once

// Character classes and small string helpers of RFC 9110/9112 field syntax, shared by the codec and the header rules.

#include <array>
#include <cstddef>
#include <string_view>

namespace tether::http {

namespace detail {

enum CharClass : unsigned char {
  kTchar = 1,       // token character (RFC 9110 5.6.2)
  kFieldValue = 2,  // allowed in a field value or reason phrase: HT, SP, VCHAR, obs-text
  kTarget = 4,      // allowed in a request target: VCHAR and obs-text (no SP, no CTL)
};

constexpr std::array<unsigned char, 256> makeCharClasses() {
  std::array<unsigned char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool tchar_punct = std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    const bool vchar = c > 0x20 && c < 0x7f;
    const bool obs_text = c >= 0x80;
    unsigned char cls = 0;
    if (alnum || tchar_punct) cls |= kTchar;
    if (vchar || obs_text || c == ' ' || c == '\t') cls |= kFieldValue;
    if (vchar || obs_text) cls |= kTarget;
    table[static_cast<size_t>(c)] = cls;
  }
  return table;
}

inline constexpr std::array<unsigned char, 256> kCharClasses = makeCharClasses();

inline bool allOf(std::string_view s, unsigned char cls) {
  for (char c : s) {
    if (!(kCharClasses[static_cast<unsigned char>(c)] & cls)) return false;
  }
  return true;
}

}  // namespace detail

inline char toLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) return false;
  }
  return true;
}

// A non-empty token: field names and methods.
inline bool isToken(std::string_view s) { return !s.empty() && detail::allOf(s, detail::kTchar); }
// Field value / reason phrase characters: no CTL other than HT, no DEL (so no NUL, CR, LF).
inline bool isFieldValue(std::string_view s) { return detail::allOf(s, detail::kFieldValue); }
inline bool isTargetText(std::string_view s) { return !s.empty() && detail::allOf(s, detail::kTarget); }

inline bool isOws(char c) { return c == ' ' || c == '\t'; }

inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty, OWS-trimmed element of a comma-separated field value (RFC 9110 5.6.1).
template <typename Fn>
void forEachListElement(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view element = trimOws(value.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace tether::http
