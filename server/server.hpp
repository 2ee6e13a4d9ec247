#pragma once
// zlb-server: one ROUTER socket owned by one thread. Echo is answered inline, factor
// jobs go to a fixed worker pool, fetches to a libcurl multi handle; both come back
// through the same poll loop. Past their bounds requests are answered `overloaded`.
#include "core/engine.hpp"
#include "core/intake.hpp"
#include "core/zmq_util.hpp"
#include "proto/codec.hpp"
#include "server/broker_link.hpp"
#include "server/cpu_pool.hpp"
#include "server/fetcher.hpp"
#include "server/settings.hpp"
#include "core/zap.hpp"
#include "metrics/exposer.hpp"
#include "metrics/server_series.hpp"
#include "metrics/socket_monitor.hpp"

#include <zmq.hpp>

#include <array>
#include <memory>
#include <optional>

namespace zlb::server {

struct Counters {
    std::uint64_t received = 0;
    std::uint64_t answered = 0;
    std::uint64_t inflight_max = 0; // most factor jobs and fetches in flight at once
    DroppedReplies replies_dropped; // to peers whose queue was full, or gone
    std::array<std::uint64_t, proto::kErrorCodeCount> errors{}; // by code, of those answered
};

class Server {
public:
    // Binds every endpoint; throws std::runtime_error / zmq::error_t on bad settings.
    Server(Settings settings, EngineEnv env);
    ~Server();

    // Serves until the stop signal, then drains. Returns the process exit code.
    int run();
    // One turn of the loop: wait up to max_wait for work, then handle what is ready.
    void poll_once(std::chrono::milliseconds max_wait);
    void drain_begin();
    bool drained() const;
    const Counters& counters() const { return counters_; }
    const std::string& name() const { return settings_.name; }
    // Factor jobs waiting for a worker thread (none taken yet).
    std::size_t cpu_queued() const;

private:
    void request_handle(Clock::time_point received);
    void request_dispatch(std::span<zmq::message_t> routing, Clock::time_point received);
    void factor_start(std::span<zmq::message_t> routing, Clock::time_point received);
    void fetch_start(std::span<zmq::message_t> routing, Clock::time_point received);
    void reply_error(std::span<zmq::message_t> routing, std::optional<std::uint64_t> id,
                     Clock::time_point received, proto::ErrorCode code, std::string_view message);
    void reply_send(std::span<zmq::message_t> routing);
    void reply_out(Origin origin, std::span<zmq::message_t> routing); // reply_
    void reply_out(Origin origin, std::span<zmq::message_t> routing, zmq::message_t& body);
    void reply_status(std::span<zmq::message_t> routing, Clock::time_point received);
    zmq::socket_t* output(Origin origin);
    std::uint64_t us_since(Clock::time_point t) const { return us_between(t, time_.now()); }
    void inflight_note();
    void broker_serve(std::size_t link);
    void brokers_join(unsigned threads);
    proto::worker::Ready ready_info(unsigned threads) const;
    void fetch_done(FetchJob& job, const FetchOutcome& outcome);
    std::size_t cpu_pending() const { return cpu_submitted_ - cpu_forwarded_; }
    void stats_log();
    void curve_setup();
    void metrics_start();
    void metrics_publish();

    Settings settings_;
    zmq::context_t& ctx_;
    const TimeSource& time_;
    int stop_fd_;
    zmq::socket_t router_;
    std::unique_ptr<ZapHandler> zap_; // only with CURVE and --bind
    std::optional<CurveKeyPair> curve_keys_;
    std::vector<std::string> broker_keys_; // each broker's public key, Z85, by link
    std::unique_ptr<CpuPool> pool_;
    std::unique_ptr<Fetcher> fetcher_;
    std::vector<std::unique_ptr<BrokerLink>> brokers_; // link i serves Origin broker_origin(i)
    Origin origin_ = Origin::router; // the socket of the request being handled
    bool results_more_ = false;      // the last read of the pool's results stopped at the cap
    bool draining_ = false;
    Clock::time_point drain_deadline_;

    // Reused across messages: the hot path allocates nothing it can avoid.
    std::vector<zmq::message_t> frames_;
    std::vector<zmq::pollitem_t> items_;
    RequestIntake intake_;
    static constexpr std::size_t kReplyBufferBytes = 4096;
    static constexpr std::size_t kReplyKeepBytes = 1 << 20;
    msgpack::sbuffer reply_{kReplyBufferBytes};
    zmq::message_t echo_reply_; // an echo's reply, sent (moved out) as soon as written
    CpuJob inline_job_;
    FactorScratch inline_scratch_;

    Counters counters_;
    // Replies to ROUTER peers whose queue was full for a moment (see ReplyBacklog).
    ReplyBacklog backlog_{settings_.peer_queue_bytes / 16, counters_.replies_dropped};
    std::uint64_t cpu_submitted_ = 0;
    std::uint64_t cpu_forwarded_ = 0;
    Counters last_counters_;
    Clock::time_point last_stats_;
    // Read once a turn, after the poll: when a held reply started waiting (its bound is
    // seconds), so a reply costs no clock read of its own.
    Clock::time_point turn_now_;
    std::optional<proto::Op> request_op_; // of the request being answered; nullopt: not read
    metrics::ServerSeries series_; // recorded always; served with --metrics
    std::unique_ptr<metrics::SocketMonitor> monitor_;
    std::unique_ptr<metrics::Exposer> exposer_; // last: stops scraping before the rest goes
};

} // namespace zlb::server
