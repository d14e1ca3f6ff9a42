#pragma once

// Small poll()-based helpers over non-blocking sockets, shared by the test peers. Every wait
// takes a deadline and, optionally, a "wake" fd whose readability means "stop now" (shutdown).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tether::testing {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

inline Deadline deadlineAfter(std::chrono::milliseconds timeout) { return Clock::now() + timeout; }

enum class IoResult {
  kOk,       // progress was made
  kTimeout,  // the deadline passed first
  kClosed,   // the peer closed (EOF) or reset the connection, or a socket error occurred
  kStopped,  // the wake fd became readable
};

void setNonBlocking(int fd);
// Waits until `fd` reports `events` (POLLIN/POLLOUT). kClosed only on POLLERR/POLLNVAL.
IoResult waitFor(int fd, short events, int wake_fd, Deadline deadline);
// Appends up to 64 KiB of available bytes to `buf`, waiting for some until `deadline`.
IoResult readSome(int fd, std::string& buf, int wake_fd, Deadline deadline);
IoResult writeAll(int fd, std::string_view data, int wake_fd, Deadline deadline);

// Non-blocking socket connected to 127.0.0.1:port, or -1.
int connectLoopback(uint16_t port, Deadline deadline);
// Close that sends RST instead of FIN (SO_LINGER with a zero timeout).
void closeWithReset(int fd);

}  // namespace tether::testing
