#include "stats/hlog.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace zlb::hdr {
namespace {

// A number in full, or nothing: "1.5x" is not 1.5.
std::optional<double> number_of(std::string_view text) {
    std::string s(text);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// The number after a "#[StartTime: " style prefix, up to the first blank, ',' or ']'.
std::optional<double> header_number(std::string_view line, std::string_view prefix) {
    std::string_view rest = line.substr(prefix.size());
    return number_of(rest.substr(0, rest.find_first_of(" ,]")));
}

} // namespace

std::string log_header(std::int64_t start_epoch_ms, std::string_view comment) {
    const std::time_t secs = static_cast<std::time_t>(start_epoch_ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);
    char line[256];
    std::string out = "#[Histogram log format version " + std::string(kLogFormatVersion) + "]\n";
    if (!comment.empty()) out += "#[" + std::string(comment) + "]\n";
    std::snprintf(line, sizeof line, "#[StartTime: %.3f (seconds since epoch), %s]\n",
                  double(start_epoch_ms) / 1000.0, date);
    out += line;
    std::snprintf(line, sizeof line, "#[BaseTime: %.3f (seconds since epoch)]\n",
                  double(start_epoch_ms) / 1000.0);
    out += line;
    out += "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
    return out;
}

std::string log_interval(std::string_view tag, double start_s, double length_s, const Histogram& h) {
    char numbers[128];
    std::snprintf(numbers, sizeof numbers, "%.3f,%.3f,%.3f,", start_s, length_s,
                  double(h.max()) / kMaxValueUnitRatio);
    std::string out;
    if (!tag.empty()) out += "Tag=" + std::string(tag) + ",";
    out += numbers;
    out += base64_encode(encode_compressed(h));
    out += '\n';
    return out;
}

Decoded LogInterval::counts() const { return decode(encoded); }

Histogram LogInterval::histogram() const {
    return to_histogram(counts(), max ? std::optional<std::uint64_t>(max) : std::nullopt);
}

void LogInterval::add_to(Histogram& h) const {
    counts_add(h, counts(), max ? std::optional<std::uint64_t>(max) : std::nullopt);
}

Log log_read(std::istream& in, const std::string& name) {
    Log log;
    std::string line;
    std::size_t number = 0;
    bool base_known = false;
    double base = 0;
    auto fail = [&](const std::string& what) -> LogError {
        return LogError(name + ":" + std::to_string(number) + ": " + what);
    };
    while (true) {
        line.clear();
        // Read by hand so an endless line is refused at the bound, not held whole.
        char c;
        bool any = false;
        while (in.get(c)) {
            any = true;
            if (c == '\n') break;
            if (line.size() >= kMaxLineBytes) {
                ++number;
                throw fail("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
            }
            line += c;
        }
        if (!any) break;
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::string_view l = line;
        if (l.empty()) continue;
        if (l.starts_with("#[StartTime: ")) {
            log.start_time_s = header_number(l, "#[StartTime: ");
            if (!log.start_time_s) throw fail("StartTime is not a number");
            continue;
        }
        if (l.starts_with("#[BaseTime: ")) {
            log.base_time_s = header_number(l, "#[BaseTime: ");
            if (!log.base_time_s) throw fail("BaseTime is not a number");
            base = *log.base_time_s;
            base_known = true;
            continue;
        }
        if (l.front() == '#' || l.starts_with("\"StartTimestamp\"")) continue;
        LogInterval iv;
        if (l.starts_with("Tag=")) {
            const auto comma = l.find(',');
            if (comma == std::string_view::npos) throw fail("a Tag= row with nothing after the tag");
            iv.tag = std::string(l.substr(4, comma - 4));
            l.remove_prefix(comma + 1);
        }
        std::string_view field[4];
        for (int k = 0; k < 3; ++k) {
            const auto comma = l.find(',');
            if (comma == std::string_view::npos)
                throw fail("a row needs start,length,max,histogram");
            field[k] = l.substr(0, comma);
            l.remove_prefix(comma + 1);
        }
        field[3] = l;
        const auto start = number_of(field[0]), length = number_of(field[1]),
                   max = number_of(field[2]);
        if (!start || !length || !max || *length < 0 || *max < 0)
            throw fail("start, length and max must be numbers (length and max not negative)");
        if (!base_known) {
            // HistogramLogReader: a first timestamp over a year before StartTime is relative.
            base = log.start_time_s && *start < *log.start_time_s - 365 * 24 * 3600.0
                       ? *log.start_time_s
                       : 0.0;
            base_known = true;
        }
        iv.start_s = base + *start;
        iv.length_s = *length;
        iv.max = static_cast<std::uint64_t>(std::llround(*max * kMaxValueUnitRatio));
        try {
            iv.encoded = base64_decode(field[3]);
            iv.total = decode(iv.encoded).total;
        } catch (const DecodeError& e) {
            throw fail(e.what());
        }
        log.intervals.push_back(std::move(iv));
    }
    if (in.bad()) throw LogError(name + ": read error");
    return log;
}

Log log_read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw LogError("cannot read " + path);
    return log_read(in, path);
}

} // namespace zlb::hdr
