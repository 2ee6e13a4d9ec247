// zlb-client: parses flags into Settings, runs the workload, prints the report.
#include "client/client.hpp"
#include "client/endpoints.hpp"
#include "client/units.hpp"
#include "core/curve.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <iostream>
#include <sstream>

#ifndef ZLB_VERSION
#define ZLB_VERSION "unknown"
#endif

namespace {

struct Flags {
    zlb::client::Settings s;
    std::vector<std::string> connect;
    std::string endpoints_file;
    std::uint32_t timeout_ms = 30'000;
    std::uint32_t connect_wait_ms = 2'000;
    std::uint32_t heartbeat_ms = 1'000;
    std::uint32_t deadline_ms = 0;
    std::uint32_t fetch_timeout_ms = 0;
    bool head = false;
    bool no_verify = false;
    bool quiet = false;
    std::string log_level = "warn";
    std::string log_format = "text";
    std::string curve_server_key;
    std::string curve_secret;
    std::string op = "echo";
    std::string duration, warmup, interval, grace = "1s"; // durations with units
    std::string start_at;
    std::vector<std::string> slos;
    std::optional<std::size_t> max_per_server;
    bool print = false;
};

// The --help footer: what a first run looks like.
constexpr const char* kExamples = R"(Examples:
  # 10,000 echo requests to two servers; the report on stdout, JSON beside it
  zlb-client --connect tcp://127.0.0.1:8004-8005 --count 10000 --json run.json
  # open loop: 2,000 req/s for 30 s after a 5 s warm-up; CI fails (exit 3) past the threshold
  zlb-client --connect tcp://127.0.0.1:8004 --rate 2000 --duration 30s --warmup 5s --slo 'p99<5ms'
  # factor the numbers of a file and print each result as a JSON line
  zlb-client --connect tcp://127.0.0.1:8004 --op factor --input numbers.txt --print

Exit codes: 0 all ok, 1 a request failed or no endpoint came up, 2 bad usage,
3 an --slo threshold failed, 130 interrupted (the report is still printed and written).)";

void flags_add(CLI::App& app, Flags& f) {
    auto& w = f.s.work;
    app.add_option("--connect", f.connect,
                   "Server endpoint, repeatable; port ranges like tcp://127.0.0.1:8004-8011");
    app.add_option("--endpoints-file", f.endpoints_file, "File with one endpoint or range per line")
        ->check(CLI::ExistingFile);
    app.add_option("--op", f.op, "echo, factor or fetch")
        ->check(CLI::IsMember({"echo", "factor", "fetch"}))
        ->capture_default_str();
    app.add_option("--input", w.input, "One number, URL or payload per line; - for stdin");
    app.add_option("--repeat", w.repeat, "Send the items this many times")
        ->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--count", w.count, "Echo requests to send (without --input)");
    app.add_option("--size", w.size, "Echo payload bytes")->capture_default_str();
    app.add_option("--random", w.random, "Factor this many random numbers (without --input)");
    app.add_option("--bits", w.bits, "Bits of each random number")
        ->check(CLI::Range(2u, 128u))->capture_default_str();
    app.add_flag("--semiprimes", w.semiprimes, "Random numbers are products of two bits/2 primes");
    app.add_option("--seed", w.seed, "Seed for random numbers")->capture_default_str();
    app.add_option("--batch", w.batch, "Numbers per factor request")
        ->check(CLI::Range(std::size_t{1}, zlb::proto::kMaxBatch))->capture_default_str();
    app.add_option("--save-dir", f.s.save_dir, "Store fetched bodies here under safe names");
    app.add_option("--window", f.s.window,
                   "Requests in flight at most; in open loop a request due while all are busy "
                   "waits for one (a late start)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))->capture_default_str();
    app.add_option("--timeout-ms", f.timeout_ms, "Client-side timeout of each attempt")
        ->check(CLI::Range(1u, 86'400'000u))->capture_default_str();
    app.add_option("--retries", f.s.retries,
                   "Resends to another server after a timeout, a lost server or overloaded")
        ->check(CLI::Range(0u, 100u))->capture_default_str();
    app.add_option("--heartbeat-ms", f.heartbeat_ms,
                   "ZMTP heartbeat interval; a server silent for 3 intervals is dropped")
        ->check(CLI::Range(100u, 3'600'000u))->capture_default_str();
    app.add_option("--deadline-ms", f.deadline_ms, "Server-side time budget sent with each request");
    app.add_option("--fetch-timeout-ms", f.fetch_timeout_ms,
                   "timeout_ms sent with fetch requests (default: the server's 30000)");
    app.add_option("--max-bytes", w.fetch.max_bytes, "max_bytes sent with fetch requests")
        ->capture_default_str();
    app.add_flag("--head", f.head, "Fetch with HEAD instead of GET");
    app.add_option("--connect-wait-ms", f.connect_wait_ms,
                   "How long to wait at start for every endpoint to connect")->capture_default_str();
    app.add_option("--curve-server-key", f.curve_server_key,
                   "The servers' public key file (NAME.pub): turns CURVE encryption on")
        ->check(CLI::ExistingFile);
    app.add_option("--curve-secret", f.curve_secret,
                   "This client's key file from zlb-keygen (NAME.key), listed by the servers")
        ->check(CLI::ExistingFile);
    app.add_option("--rate", f.s.rate,
                   "Open loop: send this many requests per second on a fixed schedule, whatever "
                   "the replies do; latency counts from each request's scheduled time. 0 is as "
                   "fast as possible: the closed loop, as without --rate")
        ->check(CLI::Validator(
            [](std::string& v) -> std::string {
                double r = 0;
                try {
                    std::size_t used = 0;
                    r = std::stod(v, &used);
                    if (used != v.size()) return "--rate: '" + v + "' is not a number";
                } catch (const std::exception&) {
                    return "--rate: '" + v + "' is not a number";
                }
                if (!(r >= 0) || r > 1e9)
                    return "--rate must be 0 (as fast as possible) or a rate up to 1e9 req/s";
                return "";
            },
            "RATE"));
    app.add_option("--duration", f.duration,
                   "Keep issuing requests this long (30s, 1m, 500ms; bare numbers are seconds), "
                   "cycling the items (open loop: rate x duration requests)");
    app.add_option("--warmup", f.warmup,
                   "Leave requests started within this time (like --duration) out of the statistics");
    app.add_option("--interval", f.interval,
                   "Print throughput, p50, p99 and errors at this interval (like --duration; "
                   "stderr, and JSON \"intervals\")");
    app.add_option("--grace", f.grace,
                   "After Ctrl-C or SIGTERM, wait this long for replies in flight before the "
                   "report; a second signal quits at once")
        ->capture_default_str();
    app.add_option("--slo", f.slos,
                   "Threshold, repeatable: p50, p90, p99, p999 or max (corrected latency) or "
                   "error_rate, with < or <=, e.g. 'p99<5ms', 'error_rate<1%'; exit 3 when one fails");
    app.add_flag("--wait-anyway", f.s.wait_anyway,
                 "With no endpoint up after --connect-wait-ms, start anyway (requests end as "
                 "timeouts) instead of exiting 1 at once");
    app.add_option("--max-per-server", f.max_per_server,
                   "Attempts one server may hold at once (default: in open loop an even share "
                   "of the window over the servers up; 0: no bound)");
    app.add_option("--hist", f.s.hist_path,
                   "Write the latency percentile distribution (HdrHistogram format, ms) to this file");
    app.add_option("--plot", f.s.plot_path,
                   "Write an SVG with latency by percentile and throughput/p99 over time");
    app.add_option("--hlog", f.s.hlog_path,
                   "Write an HdrHistogram interval log (format 1.3, tags corrected and "
                   "uncorrected, one row each per --interval, default 1s) to this file; "
                   "zlb-report merges the logs of several clients");
    app.add_option("--start-at", f.start_at,
                   "Start the run at this wall-clock time, ms since the epoch, or +DURATION "
                   "from now (+5s): clients on several hosts start their schedules together. "
                   "A client that is late starts at once and says by how much");
    app.add_option("--json", f.s.json_path,
                   "Write the summary as JSON to this file; - for stdout (the table then goes "
                   "to stderr)");
    app.add_option("--results", f.s.results_path,
                   "Write one CSV row per request to this file (warm-up left out), with its "
                   "input item and error message");
    app.add_option("--output", f.s.output_path,
                   "Write each result as it arrives, one JSON object per line (factors, fetch "
                   "status and bytes), to this file; - for stdout");
    app.add_flag("--print", f.print, "--output - : each result on stdout, the table on stderr");
    app.add_flag("--no-verify", f.no_verify, "Don't check factor and echo results");
    app.add_flag("-q,--quiet", f.quiet,
                 "No live progress view (it is shown only when stderr is a terminal)");
    app.add_option("--log-level", f.log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->capture_default_str();
    app.add_option("--log-format", f.log_format, "text or json (one JSON object per line)")
        ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
}

// Flags that would be ignored are refused: a run that differs from what was asked for
// would measure something else without saying so.
void flags_refuse(const CLI::App& app, const Flags& f) {
    auto given = [&](const char* flag) { return app.count(flag) > 0; };
    auto refuse = [](const std::string& why) { throw std::invalid_argument(why); };
    const bool input = !f.s.work.input.empty();
    if (given("--batch") && f.op != "factor") refuse("--batch applies to --op factor only");
    if (given("--count") && input) refuse("--count and --input can't go together: the input's lines are the requests");
    if (given("--count") && f.op != "echo") refuse("--count applies to echo; factor takes --random N or --input");
    if (given("--size") && (f.op != "echo" || input))
        refuse("--size applies to echo without --input (input lines are the payloads)");
    if (given("--random") && (f.op != "factor" || input))
        refuse("--random applies to --op factor without --input");
    for (const char* flag : {"--bits", "--semiprimes", "--seed"})
        if (given(flag) && !given("--random")) refuse(std::string(flag) + " applies to --random only");
    for (const char* flag : {"--head", "--max-bytes", "--fetch-timeout-ms", "--save-dir"})
        if (given(flag) && f.op != "fetch") refuse(std::string(flag) + " applies to --op fetch only");
    if (given("--repeat") && given("--duration"))
        refuse("--repeat and --duration can't go together: --duration cycles the items itself");
    if (f.print && !f.s.output_path.empty()) refuse("--print is --output -: give one of them");
    if (f.s.json_path == "-" && (f.print || f.s.output_path == "-"))
        refuse("--json - and --print (--output -) can't both write stdout");
}

zlb::client::Settings settings_from(Flags& f) {
    auto s = std::move(f.s);
    using zlb::client::parse_duration_s;
    if (!f.duration.empty() && (s.duration_s = parse_duration_s(f.duration, "--duration")) <= 0)
        throw std::invalid_argument("--duration must be more than 0");
    if (!f.warmup.empty()) s.warmup_s = parse_duration_s(f.warmup, "--warmup");
    if (!f.interval.empty() && (s.interval_s = parse_duration_s(f.interval, "--interval")) <= 0)
        throw std::invalid_argument("--interval must be more than 0");
    if (!f.start_at.empty()) s.start_at_ms = zlb::client::parse_start_at_ms(f.start_at);
    s.grace = std::chrono::milliseconds(
        static_cast<long long>(parse_duration_s(f.grace, "--grace") * 1000 + 0.5));
    for (const auto& text : f.slos) s.slos.push_back(zlb::client::parse_slo(text));
    s.max_per_server = f.max_per_server;
    if (f.print) s.output_path = "-";
    for (const auto& c : f.connect)
        for (auto& ep : zlb::client::endpoints_expand(c)) s.endpoints.push_back(std::move(ep));
    if (!f.endpoints_file.empty())
        for (auto& ep : zlb::client::endpoints_read(f.endpoints_file)) s.endpoints.push_back(std::move(ep));
    if (s.endpoints.empty()) throw std::invalid_argument("give servers with --connect or --endpoints-file");
    s.work.op = *zlb::proto::parse_op(f.op);
    s.timeout = std::chrono::milliseconds(f.timeout_ms);
    s.connect_wait = std::chrono::milliseconds(f.connect_wait_ms);
    s.heartbeat = std::chrono::milliseconds(f.heartbeat_ms);
    if (f.curve_server_key.empty() != f.curve_secret.empty())
        throw std::invalid_argument("CURVE needs both --curve-server-key and --curve-secret");
    if (!f.curve_server_key.empty()) {
        s.curve_server_key = zlb::curve_public_read(f.curve_server_key);
        auto keys = zlb::curve_secret_read(f.curve_secret);
        s.curve_public = keys.public_z85;
        s.curve_secret = keys.secret_z85;
    }
    if (f.deadline_ms) s.work.deadline_ms = f.deadline_ms;
    if (f.fetch_timeout_ms) s.work.fetch.timeout_ms = f.fetch_timeout_ms;
    s.work.fetch.head = f.head;
    s.work.fetch.want_body = !s.save_dir.empty();
    s.verify = !f.no_verify;
    // Results printed on the same terminal would tear the live view's line.
    s.progress = !f.quiet && ::isatty(STDERR_FILENO) &&
                 !(s.output_path == "-" && ::isatty(STDOUT_FILENO));
    s.intervals_print = s.interval_s > 0;
    return s;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"zlb-client: sends echo, factor or fetch work to zlb servers and measures it"};
    app.set_version_flag("--version", std::string("zlb-client ") + zlb::version());
    app.footer(kExamples);
    Flags flags;
    flags_add(app, flags);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    zlb::set_log_name("zlb-client");
    zlb::set_log_level(*zlb::parse_log_level(flags.log_level));
    zlb::set_log_format(*zlb::parse_log_format(flags.log_format));
    std::optional<zlb::StopSignals> stop;
    std::optional<zmq::context_t> ctx;
    std::optional<zlb::client::Client> client;
    std::FILE* table = stdout;
    try {
        flags_refuse(app, flags);
        auto settings = settings_from(flags);
        if (settings.json_path == "-" || settings.output_path == "-") table = stderr;
        // stdin is read while Ctrl-C still ends the process the default way: nothing
        // is lost yet, and a terminal being read would otherwise ignore it.
        if (settings.work.input == "-") {
            std::ostringstream text;
            text << std::cin.rdbuf();
            settings.work.input_text = text.str();
        }
        // Before any thread starts (the context's I/O threads): SIGINT and SIGTERM are
        // then blocked in every thread and arrive on the fd the client polls. The first
        // stops sending and leads to the report after --grace; a second quits at once.
        stop.emplace();
        ctx.emplace(1);
        client.emplace(std::move(settings), zlb::EngineEnv{*ctx, zlb::steady_time(), stop->fd()});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zlb-client: error: %s\n", e.what());
        return 2;
    }
    try {
        int code = client->run();
        if (!client->aborted()) client->report().table_print(table);
        return code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zlb-client: error: %s\n", e.what());
        return 2;
    }
}
