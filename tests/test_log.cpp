// Log lines: the text format unchanged, and the JSON format one valid object per line whatever
// the message holds (quotes, backslashes, control characters, invalid UTF-8, truncation).
#include "core/log.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

std::string escape(std::string_view in, std::size_t size = 1024) {
    std::string out(size, '\0');
    out.resize(zlb::json_escape(in, out.data(), out.size()));
    return out;
}

std::string line(zlb::LogFormat format, std::string_view message, std::size_t size = 4096,
                 zlb::LogLevel level = zlb::LogLevel::info) {
    std::string out(size, '\0');
    out.resize(zlb::format_log_line(out.data(), out.size(), format, level,
                                    "2026-11-21T23:59:01.123Z", "zlb-server", message));
    return out;
}

} // namespace

TEST_CASE("log formats parse by name") {
    CHECK(zlb::parse_log_format("text") == zlb::LogFormat::text);
    CHECK(zlb::parse_log_format("json") == zlb::LogFormat::json);
    CHECK_FALSE(zlb::parse_log_format("JSON").has_value());
    CHECK_FALSE(zlb::parse_log_format("").has_value());
}

TEST_CASE("json_escape escapes what JSON requires and keeps the rest") {
    CHECK(escape("plain text: 42 ok") == "plain text: 42 ok");
    CHECK(escape(R"(say "hi")") == R"(say \"hi\")");
    CHECK(escape(R"(C:\dir\)") == R"(C:\\dir\\)");
    CHECK(escape("a\nb\rc\td\be\ff") == R"(a\nb\rc\td\be\ff)");
    CHECK(escape(std::string_view("nul\0x", 5)) == R"(nul\u0000x)");
    CHECK(escape("\x01\x1f\x7f") == R"(\u0001\u001f\u007f)");
    CHECK(escape("/") == "/");
}

TEST_CASE("json_escape passes valid UTF-8 and replaces invalid bytes") {
    CHECK(escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK(escape("\xff") == R"(\ufffd)");
    CHECK(escape("a\x80z") == R"(a\ufffdz)");             // stray continuation byte
    CHECK(escape("\xc0\xaf") == R"(\ufffd\ufffd)");       // overlong '/'
    CHECK(escape("\xed\xa0\x80") == R"(\ufffd\ufffd\ufffd)"); // UTF-16 surrogate
    CHECK(escape("\xf4\x90\x80\x80") == R"(\ufffd\ufffd\ufffd\ufffd)"); // above U+10FFFF
    CHECK(escape("end\xe2\x82") == R"(end\ufffd\ufffd)"); // cut short (a truncated message)
}

TEST_CASE("json_escape never writes half an escape or half a character") {
    CHECK(escape("ab\"cd", 3) == "ab");           // \" needs 2, only 1 left
    CHECK(escape("ab\"cd", 4) == "ab\\\"");
    CHECK(escape("a\x01", 6) == "a");             // \u0001 needs 6
    CHECK(escape("a\xc3\xa9", 2) == "a");         // é needs 2 bytes
    CHECK(escape("anything", 0).empty());
}

TEST_CASE("text lines are as before") {
    CHECK(line(zlb::LogFormat::text, "listening on tcp://127.0.0.1:8004") ==
          "2026-11-21T23:59:01.123Z info  zlb-server: listening on tcp://127.0.0.1:8004\n");
    CHECK(line(zlb::LogFormat::text, "x", 4096, zlb::LogLevel::error) ==
          "2026-11-21T23:59:01.123Z error zlb-server: x\n");
    std::string cut = line(zlb::LogFormat::text, std::string(100, 'm'), 60);
    CHECK(cut.size() == 60);
    CHECK(cut.back() == '\n');
}

TEST_CASE("json lines carry the same fields") {
    CHECK(line(zlb::LogFormat::json, R"(bad "name" \x)", 4096, zlb::LogLevel::warn) ==
          R"({"time":"2026-11-21T23:59:01.123Z","level":"warn","program":"zlb-server",)"
          R"("message":"bad \"name\" \\x"})"
          "\n");
    CHECK(line(zlb::LogFormat::json, "two\nlines") ==
          R"({"time":"2026-11-21T23:59:01.123Z","level":"info","program":"zlb-server",)"
          R"("message":"two\nlines"})"
          "\n");
}

TEST_CASE("a json line cut to fit stays one valid object") {
    std::string head = R"({"time":"2026-11-21T23:59:01.123Z","level":"info","program":"zlb-server",)"
                       R"("message":")";
    // Room for the head, 5 message bytes and the closing "}\n: the quote would need 2 of them.
    std::string cut = line(zlb::LogFormat::json, "abcd\"efgh", head.size() + 5 + 3);
    CHECK(cut == head + "abcd\"}\n");
    cut = line(zlb::LogFormat::json, std::string(5000, '\x01'));
    CHECK(cut.size() <= 4096);
    CHECK(cut.substr(cut.size() - 3) == "\"}\n");
    CHECK(cut.find('\x01') == std::string::npos);
}
