#include "server/server.hpp"

#include "core/curve.hpp"
#include "core/log.hpp"
#include "core/signals.hpp"

#include <algorithm>
#include <stdexcept>

namespace zlb::server {

using namespace std::chrono;

Server::Server(Settings settings, EngineEnv env)
    : settings_(std::move(settings)), ctx_(env.zmq), time_(env.time), stop_fd_(env.stop_fd),
      router_(ctx_, zmq::socket_type::router), intake_(settings_.max_msg_bytes),
      last_stats_(time_.now()) {
    if (settings_.binds.empty() && settings_.brokers.empty())
        throw std::runtime_error("give --bind ENDPOINT, --broker ENDPOINT, or both");
    if (settings_.brokers.size() > kMaxBrokers)
        throw std::runtime_error("at most " + std::to_string(kMaxBrokers) + " --broker endpoints");
    // Well above the request limit, so an oversized request still arrives and can be
    // answered too_large instead of the connection being dropped.
    const auto max_frame = settings_.max_msg_bytes * 2 + 65536;
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_frame));
    router_.set(zmq::sockopt::linger, 2000);
    // A peer that sends and never reads can make this server hold at most
    // --peer-queue-bytes of its replies (an echo reply is as large as its request), and
    // a sixteenth of that in the backlog; replies past that are dropped and counted.
    queues_bound(router_, settings_.peer_queue_bytes, settings_.max_msg_bytes + 4096, max_frame);
    unsigned threads = settings_.threads ? settings_.threads : std::thread::hardware_concurrency();
    if (threads == 0) threads = 1;
    std::size_t queue = settings_.cpu_queue ? settings_.cpu_queue : 256 * threads;
    // Heartbeats drop dead clients, whose queued replies would otherwise pile up.
    heartbeats_set(router_, settings_.heartbeat);
    curve_setup();
    if (!settings_.metrics.empty()) metrics_start(); // before binding: every peer counted
    endpoints_bind(router_, settings_.binds, "server");
    if (settings_.mode != Mode::io)
        pool_ = std::make_unique<CpuPool>(ctx_, time_, threads, queue, settings_.name, &series_);
    if (settings_.mode != Mode::cpu) {
        FetcherSettings fs{settings_.max_inflight, settings_.fetch_connect_timeout,
                           FetchPolicy(settings_.deny_cidrs, settings_.allow_hosts),
                           settings_.fetch_proxy};
        fetcher_ = std::make_unique<Fetcher>(
            fs, [this](FetchJob& job, const FetchOutcome& o) { fetch_done(job, o); });
    }
    brokers_join(threads);
    LOG_INFO("server %s ready: %u factor workers, queue %zu, max %zu fetches in flight",
             settings_.name.c_str(), pool_ ? threads : 0, pool_ ? queue : 0,
             fetcher_ ? settings_.max_inflight : 0);
}

// CURVE is all or nothing: a server with a key uses it on every socket, its broker link
// included, or refuses to start, so nothing it serves is reachable in plaintext. The
// ZAP handler is bound before any endpoint, and the socket insists on it
// (ZAP_ENFORCE_DOMAIN): without a handler libzmq would let every client in.
void Server::curve_setup() {
    const auto& s = settings_;
    if (s.curve_secret.empty()) {
        if (!s.curve_allow.empty()) throw std::runtime_error("--curve-allow needs --curve-secret");
        if (!s.broker_keys.empty()) throw std::runtime_error("--broker-key needs --curve-secret");
        return;
    }
    if (!s.binds.empty() && s.curve_allow.empty())
        throw std::runtime_error("--curve-secret needs --curve-allow DIR, the authorized client keys");
    if (!s.brokers.empty() && s.broker_keys.empty())
        throw std::runtime_error("with --curve-secret the broker link is encrypted too: give "
                                 "--broker-key BROKER.pub (the broker's public key)");
    if (s.broker_keys.size() > 1 && s.broker_keys.size() != s.brokers.size())
        throw std::runtime_error("give one --broker-key for every broker, or one for all (" +
                                 std::to_string(s.broker_keys.size()) + " keys for " +
                                 std::to_string(s.brokers.size()) + " brokers)");
    curve_keys_ = curve_secret_read(s.curve_secret);
    for (const auto& key : s.broker_keys) broker_keys_.push_back(curve_public_read(key));
    if (s.binds.empty()) return;
    zap_ = std::make_unique<ZapHandler>(ctx_, std::map<std::string, std::string>{
                                                  {kZapDomainServer, s.curve_allow}});
    curve_server_set(router_, *curve_keys_, kZapDomainServer);
    LOG_INFO("CURVE on: server key %s, %zu client keys allowed", curve_keys_->public_z85.c_str(),
             zap_->keys_allowed(kZapDomainServer));
}

proto::worker::Ready Server::ready_info(unsigned threads) const {
    using proto::worker::op_bit;
    proto::worker::Ready r{settings_.name, op_bit(proto::Op::echo) | op_bit(proto::Op::status),
                           settings_.credit,
                           static_cast<std::uint32_t>(settings_.heartbeat.count())};
    if (pool_) r.ops |= op_bit(proto::Op::factor);
    if (fetcher_) r.ops |= op_bit(proto::Op::fetch);
    // By default the broker may keep every worker thread or fetch slot busy, and no more:
    // work beyond that waits at the broker, where any free worker can take it.
    if (r.credit == 0)
        r.credit = static_cast<std::uint32_t>((pool_ ? threads : 0) + (fetcher_ ? settings_.max_inflight : 0));
    return r;
}

// One link per broker, each with its share of the credit. Split: the total is divided
// (the first brokers get the remainder), at least 1 each, so in flight never exceeds what
// the server can run. Shared: every broker gets it all, so no credit sits idle behind a
// dead broker; the excess waits in the bounded factor queue or is answered overloaded.
void Server::brokers_join(unsigned threads) {
    const std::size_t n = settings_.brokers.size();
    const auto ready = ready_info(threads);
    for (std::size_t i = 0; i < n; ++i) {
        auto share = ready;
        if (settings_.credit_policy == CreditPolicy::split)
            share.credit = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(
                                                          ready.credit / n + (i < ready.credit % n)));
        std::optional<BrokerLink::Curve> curve;
        if (curve_keys_) curve = BrokerLink::Curve{*curve_keys_, broker_keys_.size() == 1 ? broker_keys_[0] : broker_keys_[i]};
        brokers_.push_back(std::make_unique<BrokerLink>(ctx_, time_, settings_.brokers[i], share,
                                                        settings_.heartbeat, std::move(curve)));
    }
}

Server::~Server() {
    pool_.reset(); // joins workers before their sockets' context can go
}

// Main loop: poll the ROUTER, the worker results, the signal fd and curl's sockets;
// handle what is ready; repeat until a stop signal has come and everything in flight
// has been answered (or the drain timeout passed).
int Server::run() {
    while (!draining_ || !drained()) {
        if (draining_ && time_.now() > drain_deadline_) {
            LOG_ERROR("drain timed out with %zu factor jobs and %zu fetches unanswered",
                      cpu_pending(), fetcher_ ? fetcher_->inflight() : 0);
            return 1;
        }
        poll_once(milliseconds(1000));
    }
    LOG_INFO("drained: %llu requests received, exiting",
             static_cast<unsigned long long>(counters_.received));
    return 0;
}

void Server::poll_once(milliseconds max_wait) {
    items_.clear();
    items_.push_back({router_.handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t stop_at = items_.size();
    if (stop_fd_ >= 0) items_.push_back({nullptr, stop_fd_, ZMQ_POLLIN, 0});
    const std::size_t pool_at = items_.size();
    // The results by their fd (edge_item), read to EAGAIN when it fires; a turn that
    // stopped at the read cap leaves results_more_ set, and the next turn does not wait.
    if (pool_) items_.push_back(edge_item(pool_->results()));
    const std::size_t zap_at = items_.size();
    if (zap_) items_.push_back({zap_->socket().handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t brokers_at = items_.size();
    for (auto& link : brokers_) items_.push_back({link->socket().handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t curl_first = items_.size();
    long wait_ms = max_wait.count();
    if (fetcher_) {
        fetcher_->poll_items_add(items_);
        if (long t = fetcher_->timer_ms(); t >= 0) wait_ms = std::min(wait_ms, t);
    }
    auto stats_due = last_stats_ + settings_.stats_interval;
    auto wake = stats_due;
    for (auto& link : brokers_) wake = std::min(wake, link->next_tick());
    wait_ms = std::min<long>(wait_ms, std::max<long>(0, ceil<milliseconds>(wake - time_.now()).count()));
    // Held replies are tried again every millisecond: libzmq does not say when a
    // ROUTER peer's queue has room.
    if (!backlog_.empty()) backlog_.retry(router_, time_.now());
    if (!backlog_.empty()) wait_ms = std::min<long>(wait_ms, 1);
    if (results_more_) wait_ms = 0;
    zmq::poll(items_.data(), items_.size(), milliseconds(wait_ms));
    turn_now_ = time_.now();

    if (stop_fd_ >= 0 && (items_[stop_at].revents & ZMQ_POLLIN)) {
        if (stop_signals_read(stop_fd_) > 0) LOG_INFO("stop signal received");
        drain_begin();
    }
    if (pool_ && ((items_[pool_at].revents & ZMQ_POLLIN) || results_more_)) {
        std::array<zmq::socket_t*, kOriginCount> outputs{};
        for (std::size_t i = 0; i < kOriginCount; ++i) outputs[i] = output(static_cast<Origin>(i));
        std::size_t n = pool_->results_forward(outputs, kMaxReadsPerTurn, counters_.replies_dropped);
        results_more_ = n == kMaxReadsPerTurn;
        cpu_forwarded_ += n;
        counters_.answered += n;
    }
    if (zap_ && (items_[zap_at].revents & ZMQ_POLLIN)) zap_->requests_handle();
    if (items_[0].revents & ZMQ_POLLIN) {
        origin_ = Origin::router;
        for (std::size_t i = 0; i < kMaxReadsPerTurn && recv_frames(router_, frames_); ++i)
            request_handle(time_.now());
    }
    for (std::size_t i = 0; i < brokers_.size(); ++i)
        if (items_[brokers_at + i].revents & ZMQ_POLLIN) broker_serve(i);
    for (auto& link : brokers_) link->tick(time_.now());
    if (fetcher_) fetcher_->poll_items_ready(items_.data() + curl_first, items_.size() - curl_first);
    if (time_.now() >= stats_due) stats_log();
    if (exposer_) metrics_publish();
}

std::size_t Server::cpu_queued() const { return pool_ ? pool_->queued() : 0; }

void Server::broker_serve(std::size_t link) {
    origin_ = broker_origin(link);
    for (std::size_t i = 0; i < kMaxReadsPerTurn; ++i) {
        auto read = brokers_[link]->message_read(frames_);
        if (read == BrokerLink::Read::empty) break;
        if (read == BrokerLink::Read::request) request_handle(time_.now());
    }
}

// The socket a reply to origin goes out on; null for a link this server does not have.
zmq::socket_t* Server::output(Origin origin) {
    const auto index = static_cast<std::size_t>(origin);
    if (index == 0) return &router_;
    return index <= brokers_.size() ? &brokers_[index - 1]->socket() : nullptr;
}

void Server::drain_begin() {
    if (draining_) return;
    draining_ = true;
    for (auto& link : brokers_) link->leave();
    drain_deadline_ = time_.now() + settings_.drain_timeout;
    LOG_INFO("draining: %zu factor jobs and %zu fetches in flight", cpu_pending(),
             fetcher_ ? fetcher_->inflight() : 0);
}

bool Server::drained() const {
    return cpu_pending() == 0 && (!fetcher_ || fetcher_->inflight() == 0) && backlog_.empty();
}

void Server::stats_log() {
    auto now = time_.now();
    double secs = duration<double>(now - last_stats_).count();
    std::uint64_t errors = 0, last_errors = 0;
    for (auto e : counters_.errors) errors += e;
    for (auto e : last_counters_.errors) last_errors += e;
    LOG_INFO("stats: %.0f req/s, received %llu, answered %llu, errors %llu (+%llu), factor in flight "
             "%zu, fetches in flight %zu",
             (counters_.received - last_counters_.received) / std::max(secs, 1e-9),
             static_cast<unsigned long long>(counters_.received),
             static_cast<unsigned long long>(counters_.answered),
             static_cast<unsigned long long>(errors),
             static_cast<unsigned long long>(errors - last_errors), cpu_pending(),
             fetcher_ ? fetcher_->inflight() : 0);
    last_counters_ = counters_;
    last_stats_ = now;
}

void Server::metrics_start() {
    auto catalog = std::make_shared<metrics::Catalog>();
    series_.catalog_fill(*catalog);
    monitor_ = std::make_unique<metrics::SocketMonitor>(ctx_, router_, series_.peers, series_.zap_refusals);
    exposer_ = std::make_unique<metrics::Exposer>(settings_.metrics, "zlb-server", std::move(catalog));
}

// Once per turn: the gauges a scrape reads, from state only this thread may touch.
void Server::metrics_publish() {
    const std::size_t pending = cpu_pending(), queued = std::min(cpu_queued(), pending);
    series_.factor_queued.set(static_cast<std::int64_t>(queued));
    series_.factor_running.set(static_cast<std::int64_t>(pending - queued));
    series_.fetches_inflight.set(static_cast<std::int64_t>(fetcher_ ? fetcher_->inflight() : 0));
    series_.replies_dropped.store(counters_.replies_dropped.count);
}

} // namespace zlb::server
