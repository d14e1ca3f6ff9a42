#pragma once

#include <string_view>

#include "log/json_line.h"
#include "log/log_queue.h"
#include "log/log_settings.h"

namespace tether::log {

using Level = LogSettings::Level;

// "debug", "info", "warn", "error".
std::string_view levelName(Level level);

// The handle one worker thread logs through: a reusable JsonLine plus that thread's LogQueue. Emitting
// never blocks and, after warm-up, never allocates. Not synchronized: one Logger per thread.
//
//   if (logger.enabled(Level::Info)) {
//     logger.line("request_completed").field("status", 200).field("path", path);
//     logger.emit();
//   }
class Logger {
 public:
  // `queue` may be null: nothing is enabled then.
  Logger(LogQueue* queue, Level min_level);

  bool enabled(Level level) const { return queue_ != nullptr && level >= min_level_; }
  void setMinLevel(Level level) { min_level_ = level; }  // a reload changed log.level

  // Begins a line with "ts", "event" and "level"; add fields, then emit(). If `level` is not enabled the
  // line is built but emit() discards it (check enabled() first to skip the work).
  JsonLine& line(std::string_view event, Level level = Level::Info);
  // Finishes the current line and queues it if its level is enabled (dropped and counted if the queue is full).
  // Returns the finished line, newline included, whether queued or not; valid until the next line().
  std::string_view emit();
  // A line with just a "message" field.
  void event(Level level, std::string_view event, std::string_view message);

 private:
  LogQueue* queue_;
  Level min_level_;
  bool pending_ = false;  // line() was called for an enabled level and not emitted yet
  JsonLine line_;
};

}  // namespace tether::log
