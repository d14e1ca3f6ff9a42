#pragma once

// A small streaming JSON writer for the admin responses: nested objects and arrays, commas placed for the caller.
// Strings go through log::appendJsonEscaped, so any bytes come out as valid JSON.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::admin {

class JsonWriter {
 public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  // Inside an object: the next value's key.
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(uint64_t number);
  JsonWriter& value(bool flag);
  JsonWriter& null();
  JsonWriter& strings(const std::vector<std::string>& items);

  std::string take() { return std::move(out_); }

 private:
  void separate();

  std::string out_;
  bool need_comma_ = false;
};

}  // namespace tether::admin
