#pragma once
// HdrHistogram interval logs, format 1.3 (HistogramLogWriter / HistogramLogReader):
//   #[Histogram log format version 1.3]
//   #[StartTime: 1700000000.123 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]
//   #[BaseTime: 1700000000.123 (seconds since epoch)]
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   Tag=corrected,0.000,1.000,2.345,HISTFAAAA...
// Timestamps are seconds after BaseTime; each histogram is the base64 of its V2
// compressed encoding (stats/hdr_codec). zlb records microseconds and writes
// Interval_Max in milliseconds (value / 1000, 3 decimals: the exact maximum).
#include "stats/hdr_codec.hpp"

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::hdr {

inline constexpr std::string_view kLogFormatVersion = "1.3";
// Interval_Max = max / this: microseconds recorded, milliseconds written.
inline constexpr double kMaxValueUnitRatio = 1000.0;
// A longer line is refused: a count array of zlb's layout never needs this much.
inline constexpr std::size_t kMaxLineBytes = 1 << 20;

// The header: version, a comment, StartTime, BaseTime (both start_epoch_ms) and the legend.
std::string log_header(std::int64_t start_epoch_ms, std::string_view comment = {});
// One interval row; start_s is seconds after BaseTime.
std::string log_interval(std::string_view tag, double start_s, double length_s, const Histogram& h);

struct LogInterval {
    std::string tag;           // "" for an untagged row
    double start_s = 0;        // absolute: seconds since the epoch
    double length_s = 0;
    std::uint64_t max = 0;     // Interval_Max back in recorded units (rounded)
    std::uint64_t total = 0;   // values counted
    // The V2 encoding as the file had it, decoded (and checked) once when read and again
    // on use: a log in memory takes about its size on disk, whatever it decodes to.
    std::string encoded;
    Decoded counts() const;
    Histogram histogram() const; // the counts with the exact maximum (to_histogram)
    void add_to(Histogram& h) const; // the same, added into h (counts_add)
};

struct Log {
    std::optional<double> start_time_s; // StartTime, seconds since the epoch
    std::optional<double> base_time_s;  // BaseTime as given (or deduced, as Java does)
    std::vector<LogInterval> intervals; // in file order
};

// Thrown with "NAME:LINE: what" for a malformed file.
struct LogError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Reads a whole log. Without BaseTime, timestamps more than a year before StartTime are
// taken as relative to it, else as absolute (HistogramLogReader's rule). Memory grows with
// the file's size (its encoded histograms), not with the requests it counted.
Log log_read(std::istream& in, const std::string& name);
Log log_read_file(const std::string& path);

} // namespace zlb::hdr
