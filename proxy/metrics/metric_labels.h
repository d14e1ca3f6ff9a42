#pragma once

// The fixed label sets of the request metrics. Label values never come from the request itself (paths, header
// values, arbitrary methods or status codes): an attacker must not be able to grow the number of series.
// Routes and upstreams are indexed as in the config; methods and status codes map onto the small sets below.

#include <array>
#include <cstddef>
#include <string_view>

#include "outcome/outcome.h"

namespace tether::metrics {

// Methods outside the list count as "other".
inline constexpr std::array<std::string_view, 8> kMethods = {"GET",    "HEAD",  "POST",    "PUT",
                                                             "DELETE", "PATCH", "OPTIONS", "other"};

// `code` is the exact status when it is one operators alert on (499 = the client left, 504 = the route deadline,
// 502/503 = upstream trouble, ...), otherwise its class ("2xx"); anything outside 100..599 is "other". A regex
// like code=~"5.." matches both forms.
inline constexpr std::array<int, 22> kExactCodes = {200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404,
                                                    405, 408, 413, 429, 431, 499, 500, 501, 502, 503, 504};
inline constexpr std::array<std::string_view, 6> kCodeClasses = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
inline constexpr size_t kCodeCount = kExactCodes.size() + kCodeClasses.size();

// The route label of a request no route matched (answered 404 by tether itself).
inline constexpr std::string_view kNoRouteLabel = "_none";

size_t methodIndex(std::string_view method);
size_t codeIndex(int status);
// The label value of a code index; `scratch` holds the digits of an exact code.
std::string_view codeLabel(size_t index, char (&scratch)[4]);

}  // namespace tether::metrics
