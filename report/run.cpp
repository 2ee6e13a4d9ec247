#include "report/run.hpp"

#include "report/files.hpp"
#include "report/json_read.hpp"
#include "report/merge.hpp"
#include "report/table.hpp"

#include <cmath>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace zlb::report {
namespace {

std::string utc_text(double epoch_s) {
    const auto secs = static_cast<std::time_t>(std::floor(epoch_s));
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char text[64];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    std::snprintf(text + n, sizeof text - n, ".%03d UTC",
                  static_cast<int>(std::lround((epoch_s - double(secs)) * 1000)) % 1000);
    return text;
}

std::string base_name(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

std::vector<std::pair<std::string, hdr::Log>> logs_read(const std::vector<std::string>& paths) {
    std::vector<std::pair<std::string, hdr::Log>> logs;
    for (const auto& path : paths) logs.emplace_back(path, hdr::log_read_file(path));
    return logs;
}

std::string merged_json(const Merged& m) {
    std::ostringstream out;
    auto summary = [&](const LogSummary& s) {
        out << "\"requests\": " << s.corrected.count() << ", \"start_s\": " << std::fixed
            << s.start_s << std::defaultfloat << ", \"elapsed_s\": " << s.elapsed_s()
            << ", \"throughput_rps\": " << s.throughput()
            << ", \"skipped_warmup\": " << s.skipped
            << ", \"latency_us\": " << json_latency(s.corrected)
            << ", \"latency_uncorrected_us\": " << json_latency(s.uncorrected);
    };
    double sum = 0;
    for (const auto& l : m.logs) sum += l.throughput();
    out << "{\n  ";
    summary(m.all);
    out << ",\n  \"sum_throughput_rps\": " << sum << ",\n  \"skip_warmup_s\": " << m.skip_warmup_s
        << ",\n  \"logs\": [";
    const char* sep = "\n    ";
    for (const auto& l : m.logs) {
        out << sep << "{\"name\": " << json_string(l.name) << ", ";
        summary(l);
        out << "}";
        sep = ",\n    ";
    }
    out << (m.logs.empty() ? "]" : "\n  ]") << ",\n  \"intervals\": [";
    sep = "\n    ";
    for (const auto& row : m.series) {
        out << sep << json_interval(row);
        sep = ",\n    ";
    }
    out << (m.series.empty() ? "]" : "\n  ]") << "\n}\n";
    return out.str();
}

void plot_write(const std::string& path, const Merged& m) {
    PlotInput in;
    in.title = "zlb-report merge: " + std::to_string(m.logs.size()) + " logs, " +
               std::to_string(m.all.corrected.count()) + " requests";
    in.curves.push_back({"all logs", &m.all.corrected, false});
    if (m.all.uncorrected.count() > 0)
        in.curves.push_back({"all, from actual send (uncorrected)", &m.all.uncorrected, true});
    for (const auto& l : m.logs)
        if (l.corrected.count() > 0) in.curves.push_back({base_name(l.name), &l.corrected, false});
    in.intervals = &m.series;
    in.warmup_s = 0; // the warm-up is left out of the series already
    in.open_loop = m.all.uncorrected.count() > 0;
    file_write(path, [&](std::ostream& out) { svg_write(out, in); });
}

int merge_run(const Settings& s, std::FILE* out) {
    if (s.files.empty()) throw std::invalid_argument("merge needs at least one .hlog file");
    const Merged m = merge(logs_read(s.files), s.skip_warmup_s);
    double sum = 0;
    for (const auto& l : m.logs) sum += l.throughput();
    std::fprintf(out, "zlb-report: %zu logs, %llu requests in %.3f s: %.1f req/s (the logs' own rates add up to %.1f)\n",
                 m.logs.size(), static_cast<unsigned long long>(m.all.corrected.count()),
                 m.all.elapsed_s(), m.all.throughput(), sum);
    std::fprintf(out, "  from %s", utc_text(m.all.spanned ? m.all.start_s : m.t0_s).c_str());
    if (s.skip_warmup_s > 0)
        std::fprintf(out, "; warm-up: the first %.1f s after %s left out (%llu requests)",
                     s.skip_warmup_s, utc_text(m.t0_s).c_str(),
                     static_cast<unsigned long long>(m.all.skipped));
    std::fprintf(out, "\n");
    for (const auto& l : m.logs)
        std::fprintf(out, "  %-28s starts %+8.3f s, %8llu requests in %8.3f s: %10.1f req/s\n",
                     base_name(l.name).c_str(), l.spanned ? l.start_s - m.t0_s : 0.0,
                     static_cast<unsigned long long>(l.corrected.count()), l.elapsed_s(),
                     l.throughput());
    if (m.all.other_tags)
        std::fprintf(out, "  %llu rows of other tags ignored (only corrected and uncorrected are read)\n",
                     static_cast<unsigned long long>(m.all.other_tags));
    std::fprintf(out, "\n");
    const std::uint64_t total = m.all.corrected.count();
    std::vector<TableRow> rows;
    for (const auto& l : m.logs) rows.push_back({base_name(l.name), l.corrected.count(), total, &l.corrected});
    rows.push_back({"all end-to-end", total, total, &m.all.corrected});
    if (m.all.uncorrected.count() > 0)
        rows.push_back({"all uncorrected", m.all.uncorrected.count(), total, &m.all.uncorrected});
    table_print(out, rows);
    if (!s.json_path.empty()) {
        const std::string text = merged_json(m);
        if (s.json_path == "-") std::fputs(text.c_str(), stdout);
        else file_write(s.json_path, [&](std::ostream& o) { o << text; });
    }
    if (!s.plot_path.empty()) plot_write(s.plot_path, m);
    return 0;
}

int show_run(const Settings& s, std::FILE* out) {
    if (s.files.size() != 1) throw std::invalid_argument("show takes one .hlog file");
    const auto logs = logs_read(s.files);
    const Merged m = merge(logs, 0);
    const LogSummary& l = m.all;
    std::fprintf(out, "zlb-report: %s: %zu intervals, %llu requests in %.3f s: %.1f req/s\n",
                 s.files[0].c_str(), logs[0].second.intervals.size(),
                 static_cast<unsigned long long>(l.corrected.count()), l.elapsed_s(), l.throughput());
    if (l.spanned) std::fprintf(out, "  from %s\n", utc_text(l.start_s).c_str());
    std::fprintf(out, "\n");
    const std::uint64_t total = l.corrected.count();
    std::vector<TableRow> rows{{"corrected", total, total, &l.corrected}};
    if (l.uncorrected.count() > 0) rows.push_back({"uncorrected", l.uncorrected.count(), total, &l.uncorrected});
    table_print(out, rows);
    return 0;
}

// One line of compare: old, new and the change, relative where the old value is not 0.
void compare_line(std::FILE* out, const char* name, std::optional<double> a, std::optional<double> b,
                  double scale, const char* format) {
    char av[32] = "-", bv[32] = "-", change[32] = "";
    if (a) std::snprintf(av, sizeof av, format, *a * scale);
    if (b) std::snprintf(bv, sizeof bv, format, *b * scale);
    if (a && b) {
        if (*a != 0) std::snprintf(change, sizeof change, "%+.1f%%", 100.0 * (*b - *a) / *a);
        else if (*b == 0) std::snprintf(change, sizeof change, "+0.0%%");
        else std::snprintf(change, sizeof change, "new");
    }
    std::fprintf(out, "  %-24s %14s %14s %10s\n", name, av, bv, change);
}

int compare_run(const Settings& s, std::FILE* out) {
    if (s.files.size() != 2) throw std::invalid_argument("compare takes two JSON files: OLD NEW");
    const JsonValue a = json_read_file(s.files[0]), b = json_read_file(s.files[1]);
    for (const auto* j : {&a, &b})
        if (!j->number_at("throughput_rps") || !j->number_at("latency_us.p99"))
            throw std::runtime_error(std::string(j == &a ? s.files[0] : s.files[1]) +
                                     ": no throughput_rps or latency_us: not a zlb-client or zlb-report JSON");
    std::fprintf(out, "zlb-report compare: %s -> %s\n\n", s.files[0].c_str(), s.files[1].c_str());
    std::fprintf(out, "  %-24s %14s %14s %10s\n", "", "old", "new", "change");
    auto line = [&](const char* name, const char* path, double scale, const char* format) {
        compare_line(out, name, a.number_at(path), b.number_at(path), scale, format);
    };
    line("requests", "requests", 1, "%.0f");
    line("throughput (req/s)", "throughput_rps", 1, "%.1f");
    for (const char* p : {"p50", "p90", "p99", "p999", "max"}) {
        const std::string path = std::string("latency_us.") + p;
        const std::string name = std::string(p == std::string("p999") ? "p99.9" : p) + " (ms)";
        line(name.c_str(), path.c_str(), 1e-3, "%.3f");
    }
    line("p99 uncorrected (ms)", "latency_uncorrected_us.p99", 1e-3, "%.3f");
    line("error rate (%)", "error_rate", 100, "%.3f");
    return 0;
}

} // namespace

int run(const Settings& s, std::FILE* out) {
    switch (s.command) {
    case Settings::Command::merge: return merge_run(s, out);
    case Settings::Command::show: return show_run(s, out);
    case Settings::Command::compare: return compare_run(s, out);
    }
    return 2;
}

} // namespace zlb::report
