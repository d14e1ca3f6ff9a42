#pragma once

// The soak's client threads: each drives one protocol against one tether instance, one operation at a time, and
// records what it did and what went wrong. An operation is a complete GET or POST (checked byte for byte) or an
// abort at one point, left one way.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "soak/soak_upstream.h"

namespace tether::soak {

enum class Proto { kH1, kH2c, kH2Tls, kCount };
enum class Kind { kGet, kPost, kMidHead, kMidBody, kWaiting, kMidResponse, kCount };
enum class How { kComplete, kFin, kRst, kRstStream, kCount };

const char* name(Proto p);
const char* name(Kind k);
const char* name(How h);
inline bool isAbort(Kind k) { return k != Kind::kGet && k != Kind::kPost; }
// Aborts that happen while tether holds an exchange for the request: each must end in one request_cancelled line.
inline bool cancels(Kind k) { return k == Kind::kMidBody || k == Kind::kWaiting || k == Kind::kMidResponse; }

struct Tally {
  // [protocol][kind][how]
  std::array<std::array<std::array<uint64_t, size_t(How::kCount)>, size_t(Kind::kCount)>, size_t(Proto::kCount)> ops{};
  decltype(ops) micros{};  // time spent, same indices
  uint64_t failures = 0;
  std::vector<std::string> failure_samples;  // the first few, for the report
  std::vector<std::string> cancel_ids;       // "<request id> <reason>" of the aborts that must be cancelled
  std::vector<std::string> cancel_ops;       // what each of them did (kind, way of leaving, path), same order
  uint64_t completed = 0;                    // requests answered in full (must each log request_completed)
  uint64_t immediate_leaves = 0;             // mid-body/waiting aborts that left without waiting for the upstream
  uint64_t body_bytes = 0;                   // response plus request body bytes moved in complete requests

  void fail(const std::string& what);
  void expectCancel(std::string cancellation, std::string op) {
    cancel_ids.push_back(std::move(cancellation));
    cancel_ops.push_back(std::move(op));
  }
  void add(const Tally& other);
};

struct ClientPlan {
  Proto proto = Proto::kH1;
  uint16_t port = 0;
  unsigned thread_index = 0;
  uint64_t operations = 0;
  uint64_t seed = 1;
  std::chrono::steady_clock::time_point deadline;
};

// Runs `plan` to the end (or its deadline: the rest then counts as failures) and returns the tally.
Tally runClient(const ClientPlan& plan, Arrivals& arrivals, std::atomic<uint64_t>& progress);

}  // namespace tether::soak
