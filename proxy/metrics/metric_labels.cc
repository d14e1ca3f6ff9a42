#include "metrics/metric_labels.h"

#include <algorithm>

namespace tether::metrics {

size_t methodIndex(std::string_view method) {
  const auto it = std::find(kMethods.begin(), kMethods.end() - 1, method);
  return static_cast<size_t>(it - kMethods.begin());  // the last entry, "other", when not found
}

size_t codeIndex(int status) {
  const auto it = std::find(kExactCodes.begin(), kExactCodes.end(), status);
  if (it != kExactCodes.end()) return static_cast<size_t>(it - kExactCodes.begin());
  const size_t cls = status >= 100 && status <= 599 ? static_cast<size_t>(status / 100 - 1) : kCodeClasses.size() - 1;
  return kExactCodes.size() + cls;
}

std::string_view codeLabel(size_t index, char (&scratch)[4]) {
  if (index >= kExactCodes.size()) return kCodeClasses[index - kExactCodes.size()];
  const int code = kExactCodes[index];
  scratch[0] = static_cast<char>('0' + code / 100);
  scratch[1] = static_cast<char>('0' + code / 10 % 10);
  scratch[2] = static_cast<char>('0' + code % 10);
  scratch[3] = '\0';
  return {scratch, 3};
}

}  // namespace tether::metrics
