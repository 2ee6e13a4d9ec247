// The broker's loop, its setup and its stats. The frontend and its queues are in
// broker_clients.cpp, the backend and its workers in broker_workers.cpp.
#include "broker/broker.hpp"

#include "core/log.hpp"
#include "core/signals.hpp"
#include "core/zmq_util.hpp"

#include <stdexcept>

namespace zlb::broker {

using namespace std::chrono;

Broker::Broker(Settings settings, EngineEnv env)
    : settings_(std::move(settings)), time_(env.time), stop_fd_(env.stop_fd), now_(time_.now()),
      frontend_(env.zmq, zmq::socket_type::router), backend_(env.zmq, zmq::socket_type::router),
      failures_(settings_.failures_remembered), intake_(settings_.max_msg_bytes) {
    if (settings_.frontends.empty() || settings_.backends.empty())
        throw std::runtime_error("give both --frontend and --backend endpoints");
    for (auto* s : {&frontend_, &backend_}) {
        s->set(zmq::sockopt::linger, 1000);
        heartbeats_set(*s, settings_.heartbeat, settings_.liveness);
    }
    // A client that never reads can make the broker hold at most --peer-queue-bytes of
    // its replies (counted at --max-msg-bytes each, the size of an echo; a fetch body may
    // be up to --max-reply-bytes), a worker at most that of requests;
    // past that a reply is dropped and counted, and a worker gets no more than its queue
    // holds (its credit is capped there too).
    const auto max_request = settings_.max_msg_bytes * 2 + 65536;
    queues_bound(frontend_, settings_.peer_queue_bytes, settings_.max_msg_bytes + 4096, max_request);
    queues_bound(backend_, settings_.peer_queue_bytes, max_request, settings_.max_reply_bytes);
    backend_hwm_ = static_cast<std::uint32_t>(hwm_for(settings_.peer_queue_bytes, max_request));
    // Per frame, so well above the request limit: an oversized request still arrives
    // and is answered too_large. A worker's frame (a reply) may be larger, up to
    // --max-reply-bytes; a bigger one drops that connection before it costs memory.
    frontend_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_request));
    backend_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(settings_.max_reply_bytes));
    // (ROUTER_MANDATORY, set above: a send to a worker that vanished fails instead of
    // disappearing, so the request can go elsewhere at once.)
    curve_setup(env.zmq);
    if (!settings_.metrics.empty()) metrics_start();
    endpoints_bind(frontend_, settings_.frontends, "frontend");
    endpoints_bind(backend_, settings_.backends, "backend");
    next_heartbeat_ = last_stats_ = time_.now();
}

// With CURVE both sockets are CURVE servers in their own ZAP domain: a client key opens
// only the frontend, a worker key only the backend. All three flags or none.
void Broker::curve_setup(zmq::context_t& ctx) {
    const auto& s = settings_;
    int given = !s.curve_secret.empty() + !s.curve_allow_clients.empty() + !s.curve_allow_workers.empty();
    if (given == 0) return;
    if (given != 3)
        throw std::runtime_error("CURVE needs all of --curve-secret, --curve-allow-clients DIR and "
                                 "--curve-allow-workers DIR");
    CurveKeyPair keys = curve_secret_read(s.curve_secret);
    zap_ = std::make_unique<ZapHandler>(
        ctx, std::map<std::string, std::string>{{kZapDomainClients, s.curve_allow_clients},
                                                {kZapDomainWorkers, s.curve_allow_workers}});
    curve_server_set(frontend_, keys, kZapDomainClients);
    curve_server_set(backend_, keys, kZapDomainWorkers);
    LOG_INFO("CURVE on: broker key %s, %zu client and %zu worker keys allowed",
             keys.public_z85.c_str(), zap_->keys_allowed(kZapDomainClients),
             zap_->keys_allowed(kZapDomainWorkers));
}

// Main loop: read worker messages (replies first: they return the credit queued
// requests wait for), then client requests; expire queued requests, requests held too
// long by a worker, and silent workers; hand what is queued to workers whose credit or
// quarantine allows it; heartbeat every worker.
int Broker::run() {
    while (!stopping_) poll_once(milliseconds(1000));
    LOG_INFO("stopping: %zu requests still held", pending_.used());
    return 0;
}

// The earliest moment something is due: a heartbeat, the stats line, a queue deadline,
// a worker's time to answer, the end of a quarantine while requests wait.
Clock::time_point Broker::wake_next(Clock::time_point until) const {
    auto wake = std::min({until, next_heartbeat_, last_stats_ + settings_.stats_interval});
    if (!expiries_.empty()) wake = std::min(wake, expiries_.top().at);
    if (!work_expiries_.empty()) wake = std::min(wake, work_expiries_.top().at);
    if (queued() > 0)
        for (const auto& [id, w] : workers_)
            if (w.quarantined_until > now_) wake = std::min(wake, w.quarantined_until);
    return wake;
}

void Broker::poll_once(milliseconds max_wait) {
    auto now = time_.now();
    auto wake = wake_next(now + max_wait);
    std::array<zmq::pollitem_t, 4> items{};
    std::size_t count = 0;
    items[count++] = {frontend_.handle(), 0, ZMQ_POLLIN, 0};
    items[count++] = {backend_.handle(), 0, ZMQ_POLLIN, 0};
    const std::size_t zap_at = count;
    if (zap_) items[count++] = {zap_->socket().handle(), 0, ZMQ_POLLIN, 0};
    const std::size_t stop_at = count;
    if (stop_fd_ >= 0) items[count++] = {nullptr, stop_fd_, ZMQ_POLLIN, 0};
    // Held replies are tried again every millisecond: libzmq does not say when a
    // client's queue has room.
    if (!backlog_.empty()) backlog_.retry(frontend_, now);
    if (!backlog_.empty()) wake = std::min(wake, now + 1ms);
    zmq::poll(items.data(), count, std::max(ceil<milliseconds>(wake - now), 0ms));
    now_ = time_.now();
    if (stop_fd_ >= 0 && (items[stop_at].revents & ZMQ_POLLIN)) {
        if (stop_signals_read(stop_fd_) > 0) stopping_ = true;
    }
    if (zap_ && (items[zap_at].revents & ZMQ_POLLIN)) zap_->requests_handle();
    // Only a socket the poll found readable is read: a read that finds nothing costs libzmq
    // two system calls (it checks the socket's mailbox), twice per turn on an idle side.
    if (items[1].revents & ZMQ_POLLIN)
        for (std::size_t i = 0; i < kMaxReadsPerTurn && recv_frames(backend_, frames_); ++i)
            worker_message();
    if (items[0].revents & ZMQ_POLLIN)
        for (std::size_t i = 0; i < kMaxReadsPerTurn && recv_frames(frontend_, frames_); ++i)
            client_request();
    queue_expire();
    work_expire();
    worker_expire();
    // What expiry and failures queued again, and what waits for a quarantine to end.
    if (queued() > 0) queue_dispatch();
    if (now_ >= next_heartbeat_) workers_heartbeat();
    if (now_ >= last_stats_ + settings_.stats_interval) stats_log();
    if (exposer_) metrics_publish();
}

std::size_t Broker::queued() const {
    std::size_t n = 0;
    for (const auto& q : queues_) n += q.live;
    return n;
}

void Broker::stats_log() {
    double secs = duration<double>(now_ - last_stats_).count();
    std::uint64_t credit = 0, inflight = 0;
    std::size_t quarantined = 0;
    for (const auto& [id, w] : workers_) {
        credit += w.credit, inflight += w.inflight;
        quarantined += w.quarantined_until > now_;
    }
    LOG_INFO("stats: %zu workers (%zu quarantined), credit %llu (%llu in use), %zu queued, "
             "%.0f req/s, %llu re-dispatched, %llu taken back, %llu dropped",
             workers_.size(), quarantined, static_cast<unsigned long long>(credit),
             static_cast<unsigned long long>(inflight), queued(),
             (counters_.replied - last_counters_.replied) / std::max(secs, 1e-9),
             static_cast<unsigned long long>(counters_.redispatched),
             static_cast<unsigned long long>(counters_.taken_back),
             static_cast<unsigned long long>(counters_.dropped));
    last_counters_ = counters_;
    last_stats_ = now_;
}

void Broker::metrics_start() {
    auto catalog = std::make_shared<metrics::Catalog>();
    series_.catalog_fill(*catalog, {counters_.redispatched, counters_.taken_back, counters_.dropped});
    exposer_ = std::make_unique<metrics::Exposer>(settings_.metrics, "zlb-broker", std::move(catalog));
}

// Once per turn: the gauges a scrape reads, from state only this thread may touch.
void Broker::metrics_publish() {
    std::int64_t quarantined = 0;
    for (const auto& [id, w] : workers_) {
        series_.tally_add(w.metrics_slot, w.credit, w.inflight);
        quarantined += w.quarantined_until > now_;
    }
    series_.tally_publish();
    series_.workers_up.set(static_cast<std::int64_t>(workers_.size()));
    series_.workers_quarantined.set(quarantined);
    for (std::size_t op = 0; op < queues_.size(); ++op)
        series_.queue_depth[op].set(static_cast<std::int64_t>(queues_[op].live));
    series_.held_bytes.set(static_cast<std::int64_t>(pending_.bytes()));
    series_.replies_dropped.store(counters_.replies_dropped.count);
}

} // namespace zlb::broker
