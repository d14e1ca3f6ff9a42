#pragma once

// Writes Prometheus text exposition format 0.0.4: a HELP and a TYPE line per metric family, then its samples.
// Every name gets the `tether_` prefix; label values are escaped as the format requires (\\, \", \n).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tether::metrics {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class ExpositionWriter {
 public:
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // `name` without the prefix; for a histogram, the family name plus "_bucket", "_sum" or "_count".
  void sample(std::string_view name, Labels labels, uint64_t value);
  void sample(std::string_view name, Labels labels, double value);
  // A histogram bucket: `labels` plus le="<bound>" (or "+Inf" when bound is infinite).
  void bucket(std::string_view family, Labels labels, double bound, uint64_t value);

  const std::string& text() const { return out_; }

 private:
  void begin(std::string_view name, Labels labels);
  void appendLabel(std::string_view key, std::string_view value, bool first);

  std::string out_;
};

// Shortest text that reads back as `value` ("0.25", "1e-06", "+Inf").
std::string formatDouble(double value);

}  // namespace tether::metrics
