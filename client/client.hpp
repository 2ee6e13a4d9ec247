#pragma once
// zlb-client: a DEALER socket connected to each endpoint (PeerSet), so the client
// chooses the server for every request (round-robin over those that can take it) and
// knows where each one went. A window bounds what is in flight;
// every request ends as exactly one of ok, error(code) or timeout. Closed loop sends
// whenever the window has room; open loop (--rate) sends on a timetable (Schedule).
#include "client/peers.hpp"
#include "client/report.hpp"
#include "client/row_writer.hpp"
#include "client/schedule.hpp"
#include "client/wake_timer.hpp"
#include "client/workload.hpp"
#include "core/engine.hpp"
#include "core/unique_fd.hpp"
#include "proto/codec.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace zlb::client {

struct Settings {
    std::vector<std::string> endpoints;
    WorkloadSettings work;
    std::size_t window = 64;
    std::chrono::milliseconds timeout{30'000};
    std::chrono::milliseconds connect_wait{2'000}; // for every endpoint to connect at start
    // With no endpoint up after connect_wait the run ends at once (every request unsent,
    // counted as a timeout) unless this is set: then it starts anyway, as before.
    bool wait_anyway = false;
    // After the first SIGINT/SIGTERM: how long replies in flight are waited for.
    std::chrono::milliseconds grace{1'000};
    // Attempts one server may hold at once. nullopt: in open loop an even share of the
    // window over the servers up (so a stalled one can't take it all), none in closed
    // loop; 0: no bound.
    std::optional<std::size_t> max_per_server;
    unsigned retries = 2;                             // resends after a timeout or overloaded
    std::chrono::milliseconds backoff{10};            // first retry delay, doubled each time
    std::chrono::milliseconds backoff_max{1'000};
    std::chrono::milliseconds heartbeat{1'000};       // ZMTP ping interval; dead after 3
    std::string curve_server_key; // Z85; with the two below, turns CURVE on
    std::string curve_public;
    std::string curve_secret;
    double rate = 0;       // requests per second; > 0 runs an open loop
    double duration_s = 0; // > 0: stop issuing after this long (open loop: rate * duration)
    double warmup_s = 0;   // requests started within this are left out of the statistics
    double interval_s = 0; // time series step; 0 for none
    bool intervals_print = false; // one stderr line per interval
    std::string json_path;    // "-" for stdout
    std::string results_path;
    std::string output_path;  // JSON lines, one per result as it arrives; "-" for stdout
    std::vector<Slo> slos;    // --slo thresholds: exit 3 when one fails
    std::string save_dir;
    std::string hist_path;
    std::string plot_path;
    std::string hlog_path;    // --hlog: HdrHistogram interval log, one row per tag and interval
    // --start-at: the run (its timetable) starts at this wall-clock time, ms since the
    // epoch, once connected; later than that it starts at once and says how late.
    std::optional<std::int64_t> start_at_ms;
    bool verify = true;
    bool progress = false;
};

struct Slot {
    std::uint64_t id = 0;
    bool busy = false;
    bool waiting = false;   // between attempts, until its retry time
    std::uint32_t attempt = 0; // 0 for the first send
    std::size_t index = 0;  // request number within the workload
    std::size_t peer = 0;   // where the current attempt went
    Clock::time_point sent; // when the current attempt went
    Clock::time_point first_sent;
    Clock::time_point due;  // when the timetable wanted it sent; first_sent in a closed loop
    bool warmup = false;    // started during the warm-up
    std::vector<u128> ns; // factor numbers sent, to check the reply against
};

// An attempt's deadline; stale once the slot has moved on to another id or attempt.
struct Deadline {
    Clock::time_point at;
    std::uint64_t id;
    std::uint32_t attempt;
};

class Client {
public:
    // Connects to every endpoint; throws on bad endpoints or unwritable outputs.
    Client(Settings settings, EngineEnv env);

    // The whole run: poll_once until done(), then finish(). Returns the exit code.
    int run();
    // One turn of the loop (see run() in client.cpp): waits up to max_wait.
    void poll_once(std::chrono::milliseconds max_wait);
    // Nothing left to issue and nothing in flight; or interrupted and the grace is over.
    bool done() const { return phase_ == Phase::done; }
    // Closes the statistics and writes every output file. Returns the exit code: 130
    // when interrupted, 3 when an --slo failed, 1 when a request failed, else 0.
    int finish();
    static constexpr std::size_t kDeadlineSlack = 1024; // stale deadlines kept before a sweep
    // Replies read from one server before the others and the timers get a turn.
    static constexpr std::size_t kRepliesPerRead = 1024;
    const Report& report() const { return report_; }
    // Attempt deadlines held, stale ones included: at most 2 x window + kDeadlineSlack.
    std::size_t deadlines_held() const { return deadlines_.size(); }
    // A second stop signal came: the run ends at once, without a report (the result
    // files hold whole rows only). run() returns 130 without calling finish().
    bool aborted() const { return aborted_; }
    // Requests still open (sent, or waiting for a resend).
    std::size_t in_flight() const { return slots_.size() - free_slots_.size(); }

private:
    enum class Phase { connecting, running, done };

    void connecting_poll(std::chrono::milliseconds max_wait);
    void stop_read(Clock::time_point now);
    void interrupt(Clock::time_point now);
    std::string peers_missing() const;
    std::size_t server_cap() const;
    void running_start(Clock::time_point now);
    void start_wait(std::chrono::milliseconds max_wait);
    void running_poll(std::chrono::milliseconds max_wait);
    bool issuing(Clock::time_point now) const;
    void requests_send(Clock::time_point now, bool& blocked);
    bool request_send(std::size_t index);
    bool attempt_send(Slot& s, std::optional<std::size_t> avoid);
    enum class Backoff { on, off };
    void retry_schedule(Slot& s, Clock::time_point now, Backoff backoff);
    void retries_send(Clock::time_point now);
    void timeout_final(Slot& s, Clock::time_point now, std::string_view why);
    void peers_lost(const std::vector<std::size_t>& peers, Clock::time_point now);
    Clock::time_point next_wake(Clock::time_point now, bool blocked, bool& on_time) const;
    void intervals_close(Clock::time_point now, bool last);
    std::string_view peer_name(std::size_t peer) const;
    bool replies_read(std::size_t peer); // true when it read any
    void reply_handle(std::size_t from, std::string_view body);
    Outcome outcome_of(const Slot& s, std::string_view server, Clock::time_point now,
                       std::uint64_t service_us) const;
    void outcome_ok(Slot& s, const proto::Reply& r);
    void outcome_error(Slot& s, std::string_view server, std::string_view code,
                       std::uint64_t service_us);
    void timeouts_expire(Clock::time_point now);
    bool deadline_live(const Deadline& d) const;
    void unsent_fail(std::string_view why);
    void slot_release(Slot& s);
    // Writes the request's --results row and --output line. reply: the one that ended
    // it, if any.
    void result_row(const Slot& s, std::string_view server, bool ok, std::string_view code,
                    std::string_view message, std::uint64_t latency_us, std::uint64_t service_us,
                    const proto::Reply* reply);
    void item_append(std::string& out, const Slot& s, char sep);
    bool reply_verify(const Slot& s, const proto::Reply& r) const;
    void body_save(const Slot& s, std::string_view body);
    void progress_print(bool final);
    void outputs_write();

    Settings settings_;
    const TimeSource& time_;
    int stop_fd_;
    Workload workload_;
    Report report_;
    PeerSet peers_;
    std::vector<Slot> slots_;
    std::vector<std::size_t> free_slots_;
    std::deque<Deadline> deadlines_; // in send order, so the earliest is in front
    using RetryAt = std::pair<Clock::time_point, std::uint64_t>;
    std::priority_queue<RetryAt, std::vector<RetryAt>, std::greater<>> retries_;
    std::minstd_rand jitter_{12345};
    bool retry_blocked_ = false; // a retry was due but no peer could take it
    Phase phase_ = Phase::connecting;
    Clock::time_point connect_deadline_;
    bool connected_ = false; // connecting is over; waiting for --start-at, if given
    bool start_wait_logged_ = false;
    Clock::time_point blocked_since_{}; // since when no server took the next request
    std::size_t next_index_ = 0;
    std::size_t limit_ = 0; // requests to issue; SIZE_MAX when only time ends the run
    std::uint64_t finished_ = 0;
    Clock::time_point started_;
    Clock::time_point issue_end_ = Clock::time_point::max(); // closed loop --duration
    Clock::time_point warmup_end_;
    Clock::time_point window_freed_; // when the window last went from full to having room
    Clock::time_point interval_start_;
    Clock::time_point last_progress_;
    std::optional<Schedule> schedule_; // open loop only
    WakeTimer wake_timer_;
    std::vector<zmq::pollitem_t> poll_items_; // see running_poll
    std::vector<std::size_t> reads_due_;       // reused by running_poll
    RowWriter results_;
    RowWriter output_;
    bool interrupted_ = false;           // a stop signal came: nothing more is sent
    bool aborted_ = false;               // a second one: end at once
    bool none_up_ = false;               // no endpoint came up: the run ended unsent
    Clock::time_point grace_end_{};
    std::string row_;                    // reused for every result row
    std::string item_;                   // and for its input item

    // Reused for every message.
    msgpack::sbuffer request_{1024};
    std::vector<zmq::message_t> frames_;
    proto::ReplyDecoder decoder_;
    proto::Reply reply_;
    std::string decode_error_;
};

} // namespace zlb::client
