#pragma once
// zlb-broker: clients speak protocol v1 to the frontend ROUTER; workers (zlb-server
// --broker) register on the backend ROUTER with a credit. Each request goes to the
// worker serving its op with the most free credit; with no credit anywhere it waits in
// a bounded per-op queue until credit returns, its deadline passes, or the queue is
// full (overloaded). Requests on a worker that dies are dispatched again elsewhere.
//
// A worker is trusted with no more than it has shown it can do: its credit is capped
// (--max-credit), and one that holds a request past --worker-timeout-ms (or past the
// request's deadline) while still heartbeating has the request taken back, sent to
// another worker, and is quarantined with a doubling backoff until it answers again.
// The workers that failed a request are remembered, so neither the broker's re-dispatch
// nor the client's resend of it goes back to them.
#include "broker/expiry_heap.hpp"
#include "broker/failures.hpp"
#include "broker/pending.hpp"
#include "broker/settings.hpp"
#include "core/engine.hpp"
#include "core/intake.hpp"
#include "core/zap.hpp"
#include "core/zmq_util.hpp"
#include "metrics/broker_series.hpp"
#include "metrics/exposer.hpp"
#include "proto/codec.hpp"
#include "proto/worker.hpp"

#include <zmq.hpp>

#include <array>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace zlb::broker {

struct Worker {
    std::string id; // routing id on the backend
    std::string name; // printable, bounded (see worker_ready)
    std::uint32_t ops = 0;
    std::uint32_t credit = 0;
    std::uint32_t inflight = 0;
    std::uint64_t served = 0;
    bool leaving = false;
    Clock::time_point expiry;
    std::chrono::milliseconds silence_max{}; // silent this long, it is gone (see worker_ready)
    std::uint32_t strikes = 0;           // requests taken back since it last answered
    Clock::time_point full_until;        // its queue was full: a short pause
    Clock::time_point quarantined_until; // gets nothing new before this
    std::uint32_t metrics_slot = 0;      // its credit series (metrics::BrokerSeries::worker_slot)
};

struct Counters { // relaxed atomics: --metrics reads them from its own thread
    metrics::Count received;
    metrics::Count replied;
    metrics::Count redispatched;
    metrics::Count taken_back; // from workers that held them too long
    metrics::Count dropped;    // garbage and stale messages
    DroppedReplies replies_dropped; // to clients whose queue was full, or gone
};

// Requests waiting for credit for one op, in arrival order. Tokens of requests that left
// the queue early (expired) stay behind until dispatch skips them or the deque is
// compacted, so `live` is the count that the bound applies to.
struct OpQueue {
    std::deque<std::uint64_t> tokens;
    std::size_t live = 0;
};

class Broker {
public:
    // Binds; throws std::runtime_error on bad endpoints or keys.
    Broker(Settings settings, EngineEnv env);

    // Serves until the stop signal. Returns the exit code.
    int run();
    // One turn: wait up to max_wait for work, then handle whatever is ready.
    void poll_once(std::chrono::milliseconds max_wait);

    // Requests waiting for credit, over all ops.
    std::size_t queued() const;

private:
    // broker_clients.cpp: the frontend and the queues.
    void client_request();
    void client_reply_error(std::span<zmq::message_t> routing, std::optional<std::uint64_t> id,
                            Clock::time_point received, proto::ErrorCode code,
                            std::string_view message);
    void client_reply_status(std::span<zmq::message_t> routing, Clock::time_point received);
    void client_send(std::span<zmq::message_t> routing, std::string_view body);
    void client_send(std::span<zmq::message_t> routing, zmq::message_t& body); // no copy
    bool op_served(proto::Op op) const;
    void request_queue(std::uint64_t token, bool front);
    bool request_send(std::uint64_t token, Worker& w);
    void request_failed(std::uint64_t token, Pending& p, const std::string& worker);
    void queue_leave(proto::Op op);
    void queue_dispatch();
    void queue_expire();

    // broker_workers.cpp: the backend.
    void worker_message();
    void worker_ready(const std::string& id, std::string_view body);
    void worker_reply(Worker& w);
    void worker_expire();
    void worker_remove(const std::string& id, const char* why);
    void worker_command(const std::string& id, std::string_view command);
    void worker_strike(Worker& w);
    void workers_heartbeat();
    void work_expire();
    Worker* worker_best(proto::Op op, const Pending* p);

    void stats_log();
    void metrics_start();
    void metrics_publish();
    void curve_setup(zmq::context_t& ctx);
    Clock::time_point wake_next(Clock::time_point until) const;

    Settings settings_;
    const TimeSource& time_;
    int stop_fd_;
    Clock::time_point now_; // this turn's time, read once after the poll
    zmq::socket_t frontend_;
    zmq::socket_t backend_;
    std::unique_ptr<ZapHandler> zap_; // only with CURVE
    std::unordered_map<std::string, Worker> workers_;
    PendingSlab pending_;
    FailureMemory failures_;
    std::array<OpQueue, proto::kOpCount> queues_;
    struct QueueExpiry { // when a queued request must have gone to a worker
        Clock::time_point at;
        std::uint64_t token;
    };
    ExpiryHeap<QueueExpiry> expiries_;
    struct WorkExpiry { // when the worker holding a request must have answered it
        Clock::time_point at;
        std::uint64_t token;
        std::uint32_t dispatch; // Pending::dispatches when it was sent
    };
    ExpiryHeap<WorkExpiry> work_expiries_;
    // What a deadline entry still names, or nullptr when it went stale: the request still
    // queued, or still at the worker of that dispatch. The heaps' sweeps and the expiries
    // ask the same question.
    Pending* queued_request(const QueueExpiry& e);
    Pending* held_request(const WorkExpiry& e);
    Clock::time_point next_heartbeat_;
    Clock::time_point last_stats_;
    Counters counters_;
    Counters last_counters_;
    // Replies to clients whose queue was full for a moment (see ReplyBacklog).
    ReplyBacklog backlog_{settings_.peer_queue_bytes / 16, counters_.replies_dropped};
    bool stopping_ = false;

    // Reused for every message.
    std::vector<zmq::message_t> frames_;
    RequestIntake intake_;
    msgpack::sbuffer reply_{1024};
    msgpack::sbuffer forward_{1024}; // a request re-encoded with what is left of its deadline
    std::string id_scratch_;
    std::string key_scratch_; // a FailureMemory key
    std::uint32_t backend_hwm_ = 0; // a worker's credit is capped at what its queue holds
    std::vector<std::uint64_t> passed_; // tokens queue_dispatch passed over
    metrics::BrokerSeries series_; // recorded always; served with --metrics
    std::unique_ptr<metrics::Exposer> exposer_; // last: stops scraping before the rest goes
};

} // namespace zlb::broker
