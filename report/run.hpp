#pragma once
// zlb-report: merge, show and compare what zlb-client runs wrote.
//   merge A.hlog B.hlog ...  the --hlog logs of several clients summed on absolute time:
//                            one table with a row per log and the union
//   show A.hlog              one log's table
//   compare OLD.json NEW.json  the change in throughput and percentiles between two runs
//                            (a zlb-client --json or a zlb-report merge --json)
#include <cstdio>
#include <string>
#include <vector>

namespace zlb::report {

struct Settings {
    enum class Command { merge, show, compare } command = Command::merge;
    std::vector<std::string> files;
    std::string json_path; // merge: the union and each log as JSON; "-" for stdout
    std::string plot_path; // merge: an SVG as zlb-client --plot draws it
    double skip_warmup_s = 0; // merge: leave out intervals this soon after the first start
};

// Prints to `out`; returns the exit code. Unreadable or malformed input throws
// std::runtime_error naming the file and line.
int run(const Settings& s, std::FILE* out);

} // namespace zlb::report
