#include "log/json_line.h"

#include <gtest/gtest.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "json_checker.h"
#include "temp_dir.h"

namespace tether::log {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using testing::JsonChecker;

const system_clock::time_point kTime = sys_days(2026y / 11 / 23) + 11h + 50min + 49s + 123ms;
constexpr std::string_view kPrefix = R"({"ts":"2026-11-23T11:50:49.123Z","event":"e")";

// The part of the line after the ts/event prefix, without the closing "}\n".
std::string fieldsOf(std::string_view line) {
  EXPECT_EQ(line.substr(0, kPrefix.size()), kPrefix);
  EXPECT_EQ(line.substr(line.size() - 2), "}\n");
  return std::string(line.substr(kPrefix.size(), line.size() - kPrefix.size() - 2));
}

std::string randomBytes(std::mt19937& random, size_t max_length) {
  std::uniform_int_distribution<size_t> length(0, max_length);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string text(length(random), '\0');
  for (char& c : text) c = static_cast<char>(byte(random));
  return text;
}

TEST(JsonLine, BeginAndFinish) {
  JsonLine line;
  EXPECT_EQ(line.begin("proxy_started", kTime).finish(),
            "{\"ts\":\"2026-11-23T11:50:49.123Z\",\"event\":\"proxy_started\"}\n");
}

TEST(JsonLine, StringFields) {
  JsonLine line;
  line.begin("e", kTime).field("path", std::string_view("/a\"b")).field("host", "example.com");
  line.field("owned", std::string("x\ny")).field("nothing", static_cast<const char*>(nullptr));
  EXPECT_EQ(fieldsOf(line.finish()), R"(,"path":"/a\"b","host":"example.com","owned":"x\ny","nothing":null)");
}

TEST(JsonLine, IntegerFields) {
  JsonLine line;
  line.begin("e", kTime)
      .field("i64", std::numeric_limits<int64_t>::min())
      .field("u64", std::numeric_limits<uint64_t>::max())
      .field("int", -42)
      .field("unsigned", 7u)
      .field("size", size_t{0})
      .field("short", static_cast<int16_t>(-3));
  EXPECT_EQ(fieldsOf(line.finish()),
            R"(,"i64":-9223372036854775808,"u64":18446744073709551615,"int":-42,"unsigned":7,"size":0,"short":-3)");
}

TEST(JsonLine, DoubleFields) {
  JsonLine line;
  line.begin("e", kTime)
      .field("a", 1.5)
      .field("b", -0.25)
      .field("c", 12345.6789)
      .field("d", 2.0f)
      .field("nan", std::nan(""))
      .field("inf", std::numeric_limits<double>::infinity())
      .field("max", std::numeric_limits<double>::max());
  const std::string fields = fieldsOf(line.finish());
  EXPECT_EQ(fields.substr(0, fields.find(",\"max\"")),
            R"(,"a":1.500,"b":-0.250,"c":12345.679,"d":2.000,"nan":null,"inf":null)");
  EXPECT_TRUE(JsonChecker::isObjectLine("{" + fields.substr(1) + "}\n"));  // DBL_MAX in fixed form too
}

TEST(JsonLine, BoolAndNullFields) {
  JsonLine line;
  line.begin("e", kTime).field("yes", true).field("no", false).nullField("none");
  EXPECT_EQ(fieldsOf(line.finish()), R"(,"yes":true,"no":false,"none":null)");
}

TEST(JsonLine, OptionalFields) {
  JsonLine line;
  line.begin("e", kTime)
      .field("empty", std::optional<int64_t>{})
      .field("status", std::optional<int>{502})
      .field("upstream", std::optional<std::string>{"a:80"})
      .field("ratio", std::optional<double>{});
  EXPECT_EQ(fieldsOf(line.finish()), R"(,"empty":null,"status":502,"upstream":"a:80","ratio":null)");
}

TEST(JsonLine, KeysAndEventAreEscaped) {
  JsonLine line;
  const std::string_view text = line.begin("a\"b", kTime).field("k\\", 1).finish();
  EXPECT_NE(text.find(R"("event":"a\"b","k\\":1})"), std::string_view::npos) << text;
}

// Keys that need no escaping are copied without going through appendJsonEscaped; every other key still is escaped,
// whatever the type of the value.
TEST(JsonLine, EveryKindOfFieldEscapesItsKeyOnlyWhenNeeded) {
  const std::string long_key(60, 'k');  // longer than a key copied in one piece
  const std::string keys[] = {"",    "k",         "request_id",  long_key,  "a\"b",
                              "k\\", "tab\there", "caf\xc3\xa9", "bad\xff", long_key + "\n"};
  const std::string escaped_keys[] = {"",      "k",          "request_id",  long_key,     "a\\\"b",
                                      "k\\\\", "tab\\there", "caf\xc3\xa9", "bad\\ufffd", long_key + "\\n"};
  for (size_t k = 0; k < std::size(keys); ++k) {
    const std::string& key = keys[k];
    const std::string q = "\"" + escaped_keys[k] + "\":";
    JsonLine line;
    line.begin("e", kTime)
        .field(key, std::string_view("v\""))
        .field(key, "lit")
        .field(key, std::numeric_limits<int64_t>::min())
        .field(key, std::numeric_limits<uint64_t>::max())
        .field(key, 0)
        .field(key, 2.5)
        .field(key, -std::numeric_limits<double>::max())
        .field(key, std::nan(""))
        .field(key, true)
        .field(key, false)
        .nullField(key)
        .field(key, std::optional<int>{});
    char max_digits[320];
    const std::string max =
        std::string(max_digits, std::to_chars(max_digits, max_digits + sizeof(max_digits),
                                              -std::numeric_limits<double>::max(), std::chars_format::fixed, 3)
                                    .ptr);
    EXPECT_EQ(fieldsOf(line.finish()), "," + q + "\"v\\\"\"," + q + "\"lit\"," + q + "-9223372036854775808," + q +
                                           "18446744073709551615," + q + "0," + q + "2.500," + q + max + "," + q +
                                           "null," + q + "true," + q + "false," + q + "null," + q + "null")
        << k;
  }
}

TEST(JsonLine, BeginDiscardsThePreviousLine) {
  JsonLine line;
  line.begin("first", kTime).field("x", 1);  // never finished
  EXPECT_EQ(line.begin("e", kTime).finish(), std::string(kPrefix) + "}\n");
}

TEST(JsonLine, ReusesItsBuffer) {
  JsonLine line;
  const char* warm = line.begin("request_completed", kTime).field("path", std::string(200, 'p')).finish().data();
  for (int i = 0; i < 1000; ++i) {
    const std::string_view text =
        line.begin("request_completed", kTime + milliseconds(i)).field("path", "/short").field("n", i).finish();
    ASSERT_EQ(text.data(), warm);  // same storage: no reallocation once warm
  }
}

TEST(JsonLine, EveryLineIsOneValidJsonObject) {
  std::mt19937 random(7);
  JsonLine line;
  for (int i = 0; i < 2000; ++i) {
    line.begin(randomBytes(random, 12), kTime + seconds(i))
        .field(randomBytes(random, 8), randomBytes(random, 64))
        .field("n", static_cast<int64_t>(random()) - (int64_t{1} << 31))
        .field("d", std::ldexp(static_cast<double>(random()), static_cast<int>(random() % 200) - 100))
        .field("b", i % 2 == 0)
        .field("o", i % 3 == 0 ? std::optional<std::string>{} : std::optional<std::string>{randomBytes(random, 4)});
    const std::string_view text = line.finish();
    std::string error;
    ASSERT_TRUE(JsonChecker::isObjectLine(text, &error)) << error << ": " << text;
    ASSERT_EQ(text.find('\n'), text.size() - 1);  // exactly one line
  }
}

TEST(JsonLine, CheckerRejectsBrokenJson) {                        // the checker itself must not accept everything
  EXPECT_FALSE(JsonChecker::isObjectLine("{\"a\":1}"));           // no newline
  EXPECT_FALSE(JsonChecker::isObjectLine("{\"a\":1,}\n"));        // trailing comma
  EXPECT_FALSE(JsonChecker::isObjectLine("{\"a\":\"x\ny\"}\n"));  // raw newline in a string
  EXPECT_FALSE(JsonChecker::isObjectLine("{\"a\":\"\x80\"}\n"));  // invalid UTF-8
  EXPECT_FALSE(JsonChecker::isObjectLine("{\"a\":01}\n"));
  EXPECT_FALSE(JsonChecker::isObjectLine("{\"a\":1}{}\n"));
  EXPECT_FALSE(JsonChecker::isObjectLine("[1]\n"));
  EXPECT_TRUE(JsonChecker::isObjectLine("{\"a\":[1,-2.5e3,{\"b\":null}],\"c\":\"\\u00e9\xc3\xa9\"}\n"));
}

// Independent cross-check: Python's strict json parser must accept every line, and decoding each escaped
// string must give exactly what Python's own UTF-8 decoder produces with errors="replace".
TEST(JsonLine, PythonAgreesWithTheEscaping) {
  if (std::system("python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not available";
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string lines_path = dir.file("lines.jsonl");
  {
    std::mt19937 random(11);
    std::ofstream out(lines_path, std::ios::binary);
    JsonLine line;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 3000; ++i) {
      const std::string raw = randomBytes(random, 24);
      std::string hex;
      for (unsigned char c : raw) hex += {kHex[c >> 4], kHex[c & 15]};
      out << line.begin("x", kTime).field("hex", hex).field("text", raw).field("d", i * 0.001).finish();
    }
  }
  const std::string script =
      "import json,sys\n"
      "for n, raw in enumerate(open(sys.argv[1], 'rb')):\n"
      "    o = json.loads(raw.decode('utf-8', 'strict'))\n"
      "    assert isinstance(o, dict) and raw.endswith(b'}\\n'), n\n"
      "    assert o['text'] == bytes.fromhex(o['hex']).decode('utf-8', 'replace'), (n, o)\n";
  const std::string script_path = dir.file("check.py");
  std::ofstream(script_path) << script;
  EXPECT_EQ(std::system(("python3 " + script_path + " " + lines_path).c_str()), 0);
}

}  // namespace
}  // namespace tether::log
