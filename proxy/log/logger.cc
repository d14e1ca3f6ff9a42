#include "log/logger.h"

#include <chrono>

namespace tether::log {

std::string_view levelName(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "unknown";
}

Logger::Logger(LogQueue* queue, Level min_level) : queue_(queue), min_level_(min_level) {}

JsonLine& Logger::line(std::string_view event, Level level) {
  pending_ = enabled(level);
  return line_.begin(event, std::chrono::system_clock::now()).field("level", levelName(level));
}

std::string_view Logger::emit() {
  const std::string_view text = line_.finish();
  if (pending_) {
    pending_ = false;
    queue_->tryPush(text);
  }
  return text;
}

void Logger::event(Level level, std::string_view event, std::string_view message) {
  if (!enabled(level)) return;
  line(event, level).field("message", message);
  emit();
}

}  // namespace tether::log
