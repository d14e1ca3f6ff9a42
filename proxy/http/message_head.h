#pragma once

// The parsed head of one HTTP/1.x message. A codec owns one and reuses it for every message on its connection, so
// clear() keeps every string's capacity: after warm-up, parsing a head allocates nothing.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::http {

struct Header {
  std::string name;
  std::string value;
};
using HeaderList = std::vector<Header>;  // order preserved, duplicates kept

struct MessageHead {
  // request
  std::string method;
  std::string target;
  // response
  int status = 0;
  std::string reason;
  int version_major = 1, version_minor = 1;
  HeaderList headers;
  bool keep_alive = true;  // llhttp_should_keep_alive after head
  bool chunked = false;    // Transfer-Encoding: chunked
  std::optional<uint64_t> content_length;
  bool upgrade = false;          // Upgrade request/101 response (llhttp's upgrade flag)
  bool expect_continue = false;  // request has "Expect: 100-continue"

  void clear();                                          // keeps capacity: heads are reused per connection
  const std::string* find(std::string_view name) const;  // case-insensitive, first match
  std::string_view path() const;  // target without query string (origin path of an absolute-form target)

  // Appends an empty header whose strings reuse the buffers of headers dropped by an earlier clear().
  Header& addHeader();
  // Appends name: value the same way. The strings are copied before the list grows, so the views may point into
  // this head's own fields.
  Header& appendHeader(std::string_view name, std::string_view value);
  // For a codec that rebuilds one head per message in place (the same shape each time): clears all but the
  // headers, which the caller overwrites field by field (assigning a string over one of the same size or less
  // copies bytes, nothing more) and then cuts to the new message's count with truncateHeaders(), whose extras go
  // to the spare list as clear()'s do.
  void clearKeepingHeaders();
  void truncateHeaders(size_t count);
  // Cleared headers kept for reuse; never more than kMaxSpareHeaders.
  size_t spareHeaders() const { return spare_.size(); }
  static constexpr size_t kMaxSpareHeaders = 64;

 private:
  HeaderList spare_;  // cleared headers, kept for their string capacity
};

}  // namespace tether::http
