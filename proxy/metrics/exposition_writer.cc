#include "metrics/exposition_writer.h"

#include <charconv>
#include <cmath>

namespace tether::metrics {
namespace {

constexpr std::string_view kPrefix = "tether_";

}  // namespace

std::string formatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void ExpositionWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(kPrefix).append(name).append(" ");
  for (char c : help) {  // HELP text escapes only backslash and newline
    if (c == '\\')
      out_.append("\\\\");
    else if (c == '\n')
      out_.append("\\n");
    else
      out_.push_back(c);
  }
  out_.append("\n# TYPE ").append(kPrefix).append(name).append(" ").append(type).append("\n");
}

void ExpositionWriter::sample(std::string_view name, Labels labels, uint64_t value) {
  begin(name, labels);
  out_.append(std::to_string(value)).push_back('\n');
}

void ExpositionWriter::sample(std::string_view name, Labels labels, double value) {
  begin(name, labels);
  out_.append(formatDouble(value)).push_back('\n');
}

void ExpositionWriter::bucket(std::string_view family, Labels labels, double bound, uint64_t value) {
  out_.append(kPrefix).append(family).append("_bucket{");
  bool first = true;
  for (const auto& [key, label] : labels) {
    appendLabel(key, label, first);
    first = false;
  }
  appendLabel("le", formatDouble(bound), first);
  out_.append("} ").append(std::to_string(value)).push_back('\n');
}

void ExpositionWriter::begin(std::string_view name, Labels labels) {
  out_.append(kPrefix).append(name);
  if (labels.size() > 0) {
    out_.push_back('{');
    bool first = true;
    for (const auto& [key, label] : labels) {
      appendLabel(key, label, first);
      first = false;
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
}

void ExpositionWriter::appendLabel(std::string_view key, std::string_view value, bool first) {
  if (!first) out_.push_back(',');
  out_.append(key).append("=\"");
  for (char c : value) {
    if (c == '\\')
      out_.append("\\\\");
    else if (c == '"')
      out_.append("\\\"");
    else if (c == '\n')
      out_.append("\\n");
    else
      out_.push_back(c);
  }
  out_.push_back('"');
}

}  // namespace tether::metrics
