#include "log/log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "json_checker.h"
#include "log/logger.h"
#include "temp_dir.h"

namespace tether::log {
namespace {

using testing::JsonChecker;
using testing::readFile;
using testing::splitLines;
using testing::TempDir;
using testing::waitFor;

LogSettings fileConfig(const std::string& path, size_t queue_lines = 8192) {
  LogSettings config;
  config.sink = LogSettings::Sink::File;
  config.path = path;
  config.queue_lines = queue_lines;
  return config;
}

// The integer value of "key":N in a line, if present.
std::optional<uint64_t> numberField(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const size_t pos = line.find(needle);
  if (pos == std::string::npos) return std::nullopt;
  return std::stoull(line.substr(pos + needle.size()));
}

bool hasEvent(const std::string& line, const std::string& event) {
  return line.find("\"event\":\"" + event + "\"") != std::string::npos;
}

size_t countEvent(const std::vector<std::string>& lines, const std::string& event) {
  size_t count = 0;
  for (const auto& line : lines) count += hasEvent(line, event) ? 1 : 0;
  return count;
}

void logNumbered(Logger& logger, std::string_view event, uint64_t producer, uint64_t n) {
  logger.line(event).field("producer", producer).field("n", n);
  logger.emit();
}

TEST(LogWriter, OpenFailsForAMissingDirectory) {
  TempDir dir;
  LogWriter writer(fileConfig(dir.file("missing/app.log")));
  std::string error;
  EXPECT_FALSE(writer.open(&error));
  EXPECT_NE(error.find("missing/app.log"), std::string::npos) << error;

  LogSettings no_path;
  no_path.sink = LogSettings::Sink::File;
  LogWriter unnamed(no_path);
  EXPECT_FALSE(unnamed.open(&error));
}

TEST(LogWriter, TwoProducersKeepTheirOrder) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  LogWriter writer(fileConfig(path));
  std::string error;
  ASSERT_TRUE(writer.open(&error)) << error;
  LogQueue* early = writer.createQueue();  // registered before start()...
  writer.start();
  LogQueue* late = writer.createQueue();  // ...and after: the writer must find both

  constexpr uint64_t kLines = 5000;
  std::vector<std::thread> producers;
  for (LogQueue* queue : {early, late}) {
    const uint64_t id = queue == early ? 0 : 1;
    producers.emplace_back([queue, id] {
      Logger logger(queue, Level::Info);
      for (uint64_t n = 0; n < kLines; ++n) logNumbered(logger, "seq", id, n);
    });
  }
  for (auto& producer : producers) producer.join();
  writer.stop();

  EXPECT_EQ(writer.droppedLines(), 0u);
  uint64_t next[2] = {0, 0};
  for (const auto& line : splitLines(readFile(path))) {
    ASSERT_TRUE(JsonChecker::isObjectLine(line)) << line;
    const uint64_t producer = numberField(line, "producer").value();
    ASSERT_EQ(numberField(line, "n").value(), next[producer]) << "producer " << producer;
    ++next[producer];
  }
  EXPECT_EQ(next[0], kLines);
  EXPECT_EQ(next[1], kLines);
}

TEST(LogWriter, StopDrainsEverythingQueued) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  LogWriter writer(fileConfig(path));
  ASSERT_TRUE(writer.open(nullptr));
  Logger logger(writer.createQueue(), Level::Info);
  for (uint64_t n = 0; n < 1000; ++n) logNumbered(logger, "before_start", 0, n);
  writer.start();
  for (uint64_t n = 0; n < 3000; ++n) logNumbered(logger, "after_start", 0, n);
  writer.stop();  // immediately: most lines are still queued

  const auto lines = splitLines(readFile(path));
  EXPECT_EQ(countEvent(lines, "before_start"), 1000u);
  EXPECT_EQ(countEvent(lines, "after_start"), 3000u);
  EXPECT_EQ(lines.size(), 4000u);

  writer.stop();   // idempotent
  writer.start();  // a stopped writer stays stopped
  EXPECT_EQ(splitLines(readFile(path)).size(), 4000u);
}

TEST(LogWriter, StopWithoutStartStillDrains) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  {
    LogWriter writer(fileConfig(path));
    ASSERT_TRUE(writer.open(nullptr));
    Logger logger(writer.createQueue(), Level::Info);
    logger.event(Level::Info, "queued", "never started");
  }  // the destructor stops
  EXPECT_EQ(countEvent(splitLines(readFile(path)), "queued"), 1u);
}

TEST(LogWriter, WriteDirectIsSynchronousWhileTheThreadIsNotRunning) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  LogWriter writer(fileConfig(path));
  ASSERT_TRUE(writer.open(nullptr));
  EXPECT_TRUE(writer.writeDirect(R"({"event":"starting"})"));  // newline added
  EXPECT_EQ(readFile(path), "{\"event\":\"starting\"}\n");

  writer.start();
  EXPECT_TRUE(writer.writeDirect("{\"event\":\"running\"}\n"));
  EXPECT_TRUE(waitFor([&] { return countEvent(splitLines(readFile(path)), "running") == 1; }));
  writer.stop();
  EXPECT_TRUE(writer.writeDirect("{\"event\":\"stopped\"}\n"));
  EXPECT_EQ(readFile(path), "{\"event\":\"starting\"}\n{\"event\":\"running\"}\n{\"event\":\"stopped\"}\n");
}

TEST(LogWriter, DropsAreCountedAndReported) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  LogWriter writer(fileConfig(path, 4));
  ASSERT_TRUE(writer.open(nullptr));
  Logger logger(writer.createQueue(), Level::Info);
  for (uint64_t n = 0; n < 10; ++n) logNumbered(logger, "seq", 0, n);
  EXPECT_EQ(writer.droppedLines(), 6u);
  writer.start();
  writer.stop();

  const auto lines = splitLines(readFile(path));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(countEvent(lines, "seq"), 4u);
  const std::string& report = lines.back();
  EXPECT_TRUE(JsonChecker::isObjectLine(report)) << report;
  EXPECT_TRUE(hasEvent(report, "log_lines_dropped")) << report;
  EXPECT_EQ(numberField(report, "count"), 6u);
  EXPECT_EQ(numberField(report, "total"), 6u);
}

TEST(LogWriter, ReopenAfterRenameWritesToANewFile) {
  TempDir dir;
  const std::string path = dir.file("app.log");
  const std::string rotated = dir.file("app.log.1");
  LogWriter writer(fileConfig(path));
  ASSERT_TRUE(writer.open(nullptr));
  Logger logger(writer.createQueue(), Level::Info);
  writer.start();

  for (uint64_t n = 0; n < 10; ++n) logNumbered(logger, "old_file", 0, n);
  ASSERT_TRUE(waitFor([&] { return splitLines(readFile(path)).size() == 10; }));
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);  // what logrotate does
  logNumbered(logger, "still_old_fd", 0, 0);                 // before the signal: goes to the renamed file
  ASSERT_TRUE(waitFor([&] { return splitLines(readFile(rotated)).size() == 11; }));
  writer.requestReopen();  // what the SIGUSR1 handler does
  for (uint64_t n = 0; n < 10; ++n) logNumbered(logger, "new_file", 0, n);
  writer.stop();

  const auto old_lines = splitLines(readFile(rotated));
  const auto new_lines = splitLines(readFile(path));
  EXPECT_EQ(countEvent(old_lines, "old_file"), 10u);
  EXPECT_EQ(countEvent(old_lines, "still_old_fd"), 1u);
  EXPECT_EQ(old_lines.size(), 11u);
  EXPECT_EQ(countEvent(new_lines, "new_file"), 10u);
  EXPECT_EQ(new_lines.size(), 10u);
}

// A sink nobody reads (a FIFO with a stalled reader) blocks the writer thread only: producers keep going,
// drop lines and count them; once the reader catches up every queued line arrives, in order.
TEST(LogWriter, BlockedSinkNeverBlocksProducers) {
  TempDir dir;
  const std::string path = dir.file("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // lets the writer open it
  ASSERT_GE(reader, 0);

  constexpr uint64_t kLines = 20000;  // ~3 MB: far more than a pipe buffer
  std::string received;
  std::thread drainer;
  uint64_t dropped = 0;
  {
    LogWriter writer(fileConfig(path, 64));
    ASSERT_TRUE(writer.open(nullptr));
    Logger logger(writer.createQueue(), Level::Info);
    writer.start();
    const std::string padding(120, 'x');
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t n = 0; n < kLines; ++n) {
      logger.line("seq").field("n", n).field("pad", padding);
      logger.emit();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    dropped = writer.droppedLines();
    EXPECT_GT(dropped, 0u);

    ::fcntl(reader, F_SETFL, 0);  // now read everything, blocking, until the writer closes the FIFO
    drainer = std::thread([&] {
      char buffer[65536];
      ssize_t got;
      while ((got = ::read(reader, buffer, sizeof(buffer))) > 0) received.append(buffer, static_cast<size_t>(got));
    });
    writer.stop();
  }  // closes the write end: the drainer sees EOF
  drainer.join();
  ::close(reader);

  uint64_t last = 0;
  uint64_t seq_lines = 0;
  uint64_t reported_total = 0;
  for (const auto& line : splitLines(received)) {
    ASSERT_TRUE(JsonChecker::isObjectLine(line)) << line;
    if (hasEvent(line, "log_lines_dropped")) {
      reported_total = numberField(line, "total").value();
      continue;
    }
    const uint64_t n = numberField(line, "n").value();
    if (seq_lines > 0) {
      ASSERT_GT(n, last);
    }
    last = n;
    ++seq_lines;
  }
  EXPECT_EQ(seq_lines, kLines - dropped);
  EXPECT_EQ(reported_total, dropped);
}

}  // namespace
}  // namespace tether::log
