#pragma once
// The latency table zlb-client prints after a run and zlb-report prints for merged logs:
// one row per group (label, count, share of the total, min mean p50 p90 p99 p99.9 max),
// all in one unit chosen from the largest value shown.
#include "stats/histogram.hpp"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace zlb::report {

// The unit of the table: milliseconds, or seconds once values reach 100 s.
struct TableUnit {
    const char* name; // "ms" or "s"
    double per_us;    // factor from microseconds
};
TableUnit table_unit(std::uint64_t max_us);

struct TableRow {
    std::string label;
    std::uint64_t count = 0; // requests of the row (timeouts included, which have no latency)
    std::uint64_t total = 0; // what the share is of
    const Histogram* latency_us = nullptr;
};

// The header line and the rows; the unit fits the largest maximum of all rows.
void table_print(std::FILE* out, const std::vector<TableRow>& rows);

} // namespace zlb::report
