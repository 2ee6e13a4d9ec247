// zlb-report: parses flags into Settings and calls run().
#include "core/process.hpp"
#include "report/run.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

namespace {

constexpr const char* kExamples = R"(Examples:
  # three clients, one report: each wrote zlb-client ... --hlog hostN.hlog
  zlb-report merge host1.hlog host2.hlog host3.hlog --json all.json --plot all.svg
  zlb-report show host1.hlog
  zlb-report compare yesterday.json all.json

Histograms are added count by count on absolute time (each log's StartTime), never by
averaging percentiles. Exit codes: 0 done, 2 bad usage or an unreadable/malformed file.)";

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"zlb-report: merges, shows and compares zlb-client results"};
    app.set_version_flag("--version", std::string("zlb-report ") + zlb::version());
    app.footer(kExamples);
    app.require_subcommand(1);
    zlb::report::Settings s;
    using Command = zlb::report::Settings::Command;
    auto* merge = app.add_subcommand("merge", "Add the interval logs of several clients (--hlog) into one report");
    merge->add_option("files", s.files, "HdrHistogram interval logs")->required()->check(CLI::ExistingFile);
    merge->add_option("--json", s.json_path, "Write the union and each log as JSON (- for stdout)");
    merge->add_option("--plot", s.plot_path, "Write an SVG: latency by percentile, throughput and p99 over time");
    merge->add_option("--skip-warmup", s.skip_warmup_s,
                      "Leave out intervals starting within this many seconds of the earliest StartTime")
        ->check(CLI::NonNegativeNumber);
    auto* show = app.add_subcommand("show", "Print one interval log's percentiles");
    show->add_option("file", s.files, "HdrHistogram interval log")->required()->expected(1)->check(CLI::ExistingFile);
    auto* compare = app.add_subcommand("compare", "Print the change in throughput and percentiles between two runs");
    compare->add_option("files", s.files, "OLD.json NEW.json (zlb-client --json or zlb-report merge --json)")
        ->required()->expected(2)->check(CLI::ExistingFile);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    s.command = app.got_subcommand(merge) ? Command::merge
                : app.got_subcommand(show) ? Command::show : Command::compare;
    std::FILE* out = s.json_path == "-" ? stderr : stdout;
    try {
        return zlb::report::run(s, out);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zlb-report: error: %s\n", e.what());
        return 2;
    }
}
