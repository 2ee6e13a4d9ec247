#pragma once
// Just enough JSON to read zlb's own --json files back (zlb-report compare): objects,
// arrays, strings, numbers, true/false/null. Bounded: nesting at most kMaxDepth deep, and
// the caller bounds the text. Malformed input throws std::runtime_error with the offset.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::report {

struct JsonValue {
    enum class Type { null, boolean, number, string, array, object } type = Type::null;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<JsonValue> array;
    std::map<std::string, JsonValue, std::less<>> object;

    // The member at a dotted path ("latency_us.p99"), if it is a number.
    std::optional<double> number_at(std::string_view path) const;
};

inline constexpr int kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxJsonBytes = 64 << 20;

JsonValue json_parse(std::string_view text);
// Reads and parses a file of at most kMaxJsonBytes; errors name the file.
JsonValue json_read_file(const std::string& path);

} // namespace zlb::report
