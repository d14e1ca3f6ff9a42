#pragma once

// Realistic wire inputs shared by the benchmarks.

#include <string>

namespace tether::bench {

// A browser fetching a script: ~600 bytes, 12 fields (cookie, client hints, referer), keep-alive.
inline const std::string kBrowserGet =
    "GET /static/js/app.3f9c2b71.js?v=20261123 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Referer: https://shop.example.com/products/coffee-grinder?ref=home\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n"
    "\r\n";

inline const std::string kApiPostBody =
    R"({"customer_id":48213,"items":[{"sku":"CG-100","qty":1},{"sku":"FLT-20","qty":3}],)"
    R"("currency":"EUR","note":"leave at the door"})";

// A service calling a JSON API: 7 fields and a 130-byte body.
inline const std::string kApiPost =
    "POST /api/v1/orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: orders-client/2.4.1\r\n"
    "Accept: application/json\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcmRlcnMifQ.c2lnbmF0dXJl\r\n"
    "X-Forwarded-For: 198.51.100.23\r\n"
    "Content-Length: " +
    std::to_string(kApiPostBody.size()) + "\r\n\r\n" + kApiPostBody;

// A small API GET as a pipelining client sends it.
inline std::string apiGet(int n) {
  return "GET /api/v1/items/" + std::to_string(1000 + n) +
         " HTTP/1.1\r\n"
         "Host: api.example.com\r\n"
         "User-Agent: pipeline-client/1.0\r\n"
         "Accept: application/json\r\n"
         "Accept-Encoding: gzip\r\n"
         "\r\n";
}

// 8 pipelined API GETs in one read.
constexpr int kPipelinedRequests = 8;
inline const std::string kPipelinedBatch = [] {
  std::string batch;
  for (int i = 0; i < kPipelinedRequests; ++i) batch += apiGet(i);
  return batch;
}();

inline const std::string kResponseBody =
    R"({"id":1042,"name":"Conical burr grinder","price":{"amount":"129.00","currency":"EUR"},)"
    R"("stock":17,"tags":["coffee","grinder","kitchen"]})";

// A typical upstream answer: 10 fields (hop-by-hop Connection and Keep-Alive among them), a 140-byte JSON body.
inline const std::string kApiResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Mon, 23 Nov 2026 14:43:26 GMT\r\n"
    "Server: demo-upstream/1.0\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: " +
    std::to_string(kResponseBody.size()) +
    "\r\n"
    "Connection: keep-alive\r\n"
    "Keep-Alive: timeout=60\r\n"
    "Cache-Control: private, max-age=0, no-store\r\n"
    "Vary: Accept-Encoding\r\n"
    "ETag: W/\"8c-1a2b3c4d5e6f\"\r\n"
    "X-Request-Id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\r\n"
    "\r\n" +
    kResponseBody;

// The same answer as a Go net/http upstream sends it on a keep-alive connection: no Connection/Keep-Alive, no
// X-Request-Id echo.
inline const std::string kPlainApiResponse =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Date: Mon, 23 Nov 2026 14:43:26 GMT\r\n"
    "Content-Length: " +
    std::to_string(kResponseBody.size()) + "\r\n\r\n" + kResponseBody;

}  // namespace tether::bench
