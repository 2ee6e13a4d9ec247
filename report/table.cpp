#include "report/table.hpp"

#include <algorithm>

namespace zlb::report {

TableUnit table_unit(std::uint64_t max_us) {
    if (max_us >= 100'000'000) return {"s", 1e-6};
    return {"ms", 1e-3};
}

// Latencies in the table's one unit, 3 decimals: ms keep microsecond resolution.
void table_print(std::FILE* out, const std::vector<TableRow>& rows) {
    std::uint64_t largest = 0;
    for (const auto& r : rows) largest = std::max(largest, r.latency_us->max());
    const TableUnit unit = table_unit(largest);
    const std::string head = std::string("latency (") + unit.name + ")";
    std::fprintf(out, "  %-28s %8s %7s %10s %10s %10s %10s %10s %10s %10s\n", head.c_str(),
                 "count", "share", "min", "mean", "p50", "p90", "p99", "p99.9", "max");
    auto v = [&](double us) { return us * unit.per_us; };
    for (const auto& r : rows) {
        const Histogram& h = *r.latency_us;
        const double share = r.total ? 100.0 * double(r.count) / double(r.total) : 0;
        std::fprintf(out,
                     "  %-28.*s %8llu %6.1f%% %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f\n",
                     static_cast<int>(r.label.size()), r.label.data(),
                     static_cast<unsigned long long>(r.count), share, v(double(h.min())),
                     v(h.mean()), v(double(h.percentile(50))), v(double(h.percentile(90))),
                     v(double(h.percentile(99))), v(double(h.percentile(99.9))),
                     v(double(h.max())));
    }
}

} // namespace zlb::report
