#include "report/merge.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace zlb::report {

double LogSummary::throughput() const {
    const double s = elapsed_s();
    return s > 0 ? double(corrected.count()) / s : 0;
}

namespace {

enum class Tag { corrected, uncorrected, other };

Tag tag_of(const std::string& tag) {
    if (tag == "corrected" || tag.empty()) return Tag::corrected;
    if (tag == "uncorrected") return Tag::uncorrected;
    return Tag::other;
}

double log_start(const hdr::Log& log) {
    if (log.start_time_s) return *log.start_time_s;
    return log.intervals.empty() ? std::numeric_limits<double>::infinity() : log.intervals[0].start_s;
}

// Adds one interval's counts to a summary; the span follows the corrected rows.
void interval_add(LogSummary& s, const hdr::LogInterval& iv, Tag tag) {
    if (tag == Tag::uncorrected) {
        iv.add_to(s.uncorrected);
        return;
    }
    if (!s.spanned) s.start_s = s.end_s = iv.start_s;
    s.spanned = true;
    s.start_s = std::min(s.start_s, iv.start_s);
    s.end_s = std::max(s.end_s, iv.start_s + iv.length_s);
    iv.add_to(s.corrected);
}

void span_join(LogSummary& all, const LogSummary& one) {
    if (!one.spanned) return;
    all.start_s = all.spanned ? std::min(all.start_s, one.start_s) : one.start_s;
    all.end_s = all.spanned ? std::max(all.end_s, one.end_s) : one.end_s;
    all.spanned = true;
}

} // namespace

Merged merge(const std::vector<std::pair<std::string, hdr::Log>>& logs, double skip_warmup_s) {
    Merged m;
    m.skip_warmup_s = skip_warmup_s;
    m.all.name = "all";
    m.t0_s = std::numeric_limits<double>::infinity();
    for (const auto& [name, log] : logs) m.t0_s = std::min(m.t0_s, log_start(log));
    if (!std::isfinite(m.t0_s)) m.t0_s = 0;
    const double skip_until = m.t0_s + skip_warmup_s;
    // The series' step: the first corrected interval's length, rounded to ms.
    double step_s = 0;
    struct Placed {
        long step;
        const hdr::LogInterval* iv;
    };
    std::vector<Placed> placed;
    for (const auto& [name, log] : logs) {
        LogSummary s;
        s.name = name;
        for (const auto& iv : log.intervals) {
            const Tag tag = tag_of(iv.tag);
            if (tag == Tag::other) {
                ++s.other_tags;
                continue;
            }
            if (iv.start_s < skip_until - 1e-6) {
                if (tag == Tag::corrected) s.skipped += iv.total;
                continue;
            }
            interval_add(s, iv, tag);
            if (tag != Tag::corrected) continue;
            if (step_s == 0 && iv.length_s > 0) step_s = std::max(std::round(iv.length_s * 1000) / 1000, 0.001);
            placed.push_back({0, &iv});
        }
        m.all.corrected.merge(s.corrected);
        m.all.uncorrected.merge(s.uncorrected);
        m.all.skipped += s.skipped;
        m.all.other_tags += s.other_tags;
        span_join(m.all, s);
        m.logs.push_back(std::move(s));
    }
    if (step_s == 0) return m;
    // The series: each interval in the step that holds its midpoint, one step at a time
    // so only one histogram is held.
    for (auto& p : placed)
        p.step = std::lround(std::floor((p.iv->start_s + p.iv->length_s / 2 - m.t0_s) / step_s));
    std::stable_sort(placed.begin(), placed.end(),
                     [](const Placed& a, const Placed& b) { return a.step < b.step; });
    Histogram h;
    for (std::size_t i = 0; i < placed.size();) {
        const long step = placed[i].step;
        h.reset();
        for (; i < placed.size() && placed[i].step == step; ++i) placed[i].iv->add_to(h);
        IntervalRow row;
        row.t_s = double(step + 1) * step_s;
        row.length_s = step_s;
        row.rps = double(h.count()) / step_s;
        row.p50_us = h.percentile(50);
        row.p99_us = h.percentile(99);
        row.warmup = false;
        m.series.push_back(row);
    }
    return m;
}

} // namespace zlb::report
