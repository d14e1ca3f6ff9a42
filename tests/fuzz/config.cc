// libFuzzer target: the config loader on a YAML text (parse, bounds, validation, error collection). Host names are
// not resolved (no DNS from a fuzzer); numeric endpoints are.
#include <cstdlib>
#include <string_view>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether::config;
  LoadOptions options;
  options.resolve_host_names = false;
  const LoadResult result =
      loadConfigString(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml", options);
  // Exactly one of: a config, or at least one error.
  if ((result.config != nullptr) == !result.errors.empty()) std::abort();
  for (const ConfigError& error : result.errors) {
    if (error.message.empty() || error.toString().empty()) std::abort();
  }
  return 0;
}
