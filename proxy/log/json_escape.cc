#include "log/json_escape.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace tether::log {
namespace {

struct Utf8Scan {
  size_t length;  // bytes consumed: the whole sequence, or the maximal invalid subpart (>= 1)
  bool valid;
};

// Unicode Table 3-7 (well-formed byte sequences): rejects overlongs, surrogates and values > U+10FFFF.
Utf8Scan scanUtf8(const unsigned char* s, size_t n) {
  const unsigned char lead = s[0];
  if (lead < 0x80) return {1, true};
  size_t trailing = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    trailing = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    trailing = 2;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    trailing = 3;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};  // continuation byte, C0/C1 or F5..FF
  }
  for (size_t i = 1; i <= trailing; ++i) {
    if (i >= n || s[i] < lo || s[i] > hi) return {i, false};
    lo = 0x80;
    hi = 0xBF;
  }
  return {trailing + 1, true};
}

bool isPlain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// The high bit of each byte of `w` that is not plain (>= 0x80, < 0x20, '"' or '\\'). No false positive below the
// first byte that is not plain: a subtraction only borrows out of a byte that matches, so the lowest bit set marks
// the first such byte (and none is set for 8 plain bytes).
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;
constexpr uint64_t zeroBytes(uint64_t v) { return (v - kOnes) & ~v & kHighs; }
constexpr uint64_t specialBytes(uint64_t w) {
  return (w | ((w - kOnes * 0x20) & ~w) | zeroBytes(w ^ (kOnes * '"')) | zeroBytes(w ^ (kOnes * '\\'))) & kHighs;
}

// Index of the first byte at or after `i` that is not plain, or n: 8 bytes at a time, then byte by byte.
[[gnu::always_inline]] inline size_t skipPlain(const unsigned char* s, size_t i, size_t n) {
  while (n - i >= sizeof(uint64_t)) {
    uint64_t w;
    std::memcpy(&w, s + i, sizeof(w));
    const uint64_t special = specialBytes(w);
    if (special != 0) {
      if constexpr (std::endian::native == std::endian::little) {
        return i + static_cast<size_t>(std::countr_zero(special)) / 8;
      } else {
        break;  // the byte loop below finds it
      }
    }
    i += sizeof(w);
  }
  while (i < n && isPlain(s[i])) ++i;
  return i;
}

void appendEscape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"': out.append("\\\""); return;
    case '\\': out.append("\\\\"); return;
    case '\n': out.append("\\n"); return;
    case '\r': out.append("\\r"); return;
    case '\t': out.append("\\t"); return;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(u, sizeof(u));
    }
  }
}

}  // namespace

size_t plainAsciiPrefix(std::string_view text) {
  return skipPlain(reinterpret_cast<const unsigned char*>(text.data()), 0, text.size());
}

void appendJsonEscaped(std::string& out, std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t run_start = 0;  // bytes that need no escaping are appended in runs
  size_t i = 0;
  while (true) {
    i = skipPlain(s, i, n);
    if (i == n) break;
    if (s[i] >= 0x80) {
      const Utf8Scan scan = scanUtf8(s + i, n - i);
      if (scan.valid) {
        i += scan.length;
        continue;
      }
      out.append(text.data() + run_start, i - run_start);
      out.append("\\ufffd");
      i += scan.length;
    } else {
      out.append(text.data() + run_start, i - run_start);
      appendEscape(out, s[i]);
      ++i;
    }
    run_start = i;
  }
  out.append(text.data() + run_start, n - run_start);
}

}  // namespace tether::log
