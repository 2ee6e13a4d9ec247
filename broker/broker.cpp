#include "broker/broker.hpp"

#include "core/log.hpp"
#include "core/signals.hpp"
#include "core/zmq_util.hpp"

#include <cstring>
#include <stdexcept>
#include <unistd.h>

namespace zlb::broker {
namespace {

using namespace std::chrono;
using proto::ErrorCode;
namespace wp = proto::worker;

} // namespace

Broker::Broker(Settings settings, EngineEnv env)
    : settings_(std::move(settings)), time_(env.time), stop_fd_(env.stop_fd),
      frontend_(env.zmq, zmq::socket_type::router), backend_(env.zmq, zmq::socket_type::router),
      intake_(settings_.max_msg_bytes) {
    if (settings_.frontends.empty() || settings_.backends.empty())
        throw std::runtime_error("give both --frontend and --backend endpoints");
    for (auto* s : {&frontend_, &backend_}) {
        s->set(zmq::sockopt::linger, 1000);
        s->set(zmq::sockopt::sndhwm, 0);
        s->set(zmq::sockopt::rcvhwm, 100000);
        heartbeats_set(*s, settings_.heartbeat, settings_.liveness);
    }
    frontend_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(settings_.max_msg_bytes * 2 + 65536));
    // A send to a worker that vanished fails instead of disappearing, so the request
    // can go elsewhere at once.
    backend_.set(zmq::sockopt::router_mandatory, 1);
    curve_setup(env.zmq);
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

// Main loop: read client requests and worker messages, hand queued requests to workers
// with credit, expire queued requests and silent workers, heartbeat every worker.
int Broker::run() {
    while (!stopping_) poll_once(milliseconds(1000));
    LOG_INFO("stopping: %zu requests still held", pending_.used());
    return 0;
}

void Broker::poll_once(milliseconds max_wait) {
    auto now = time_.now();
    auto wake = std::min({now + max_wait, next_heartbeat_, last_stats_ + settings_.stats_interval});
    if (!expiries_.empty()) wake = std::min(wake, expiries_.top().first);
    std::array<zmq::pollitem_t, 4> items{};
    std::size_t count = 0;
    items[count++] = {frontend_.handle(), 0, ZMQ_POLLIN, 0};
    items[count++] = {backend_.handle(), 0, ZMQ_POLLIN, 0};
    const std::size_t zap_at = count;
    if (zap_) items[count++] = {zap_->socket().handle(), 0, ZMQ_POLLIN, 0};
    const std::size_t stop_at = count;
    if (stop_fd_ >= 0) items[count++] = {nullptr, stop_fd_, ZMQ_POLLIN, 0};
    zmq::poll(items.data(), count, std::max(ceil<milliseconds>(wake - now), 0ms));
    now = time_.now();
    if (stop_fd_ >= 0 && (items[stop_at].revents & ZMQ_POLLIN)) {
        if (stop_signals_read(stop_fd_) > 0) stopping_ = true;
    }
    if (zap_ && (items[zap_at].revents & ZMQ_POLLIN)) zap_->requests_handle();
    // Replies first: they return credit that queued requests are waiting for.
    for (std::size_t i = 0; i < kMaxReadsPerTurn && recv_frames(backend_, frames_); ++i)
        worker_message(now);
    for (std::size_t i = 0; i < kMaxReadsPerTurn && recv_frames(frontend_, frames_); ++i)
        client_request(now);
    queue_expire(now);
    worker_expire(now);
    if (now >= next_heartbeat_) workers_heartbeat(now);
    if (now >= last_stats_ + settings_.stats_interval) stats_log(now);
}

std::size_t Broker::queued() const {
    std::size_t n = 0;
    for (const auto& q : queues_) n += q.live;
    return n;
}

// The intake answers malformed requests like a server would; status is answered here,
// and everything else goes to a worker or waits in its op's queue.
void Broker::client_request(Clock::time_point now) {
    ++counters_.received;
    switch (intake_.take(frames_)) {
    case RequestIntake::Verdict::dropped:
        ++counters_.dropped;
        return;
    case RequestIntake::Verdict::refused: {
        const auto& r = intake_.refusal();
        return client_reply_error(intake_.routing(), r.id, now, r.code, r.message);
    }
    case RequestIntake::Verdict::request:
        break;
    }
    std::span<zmq::message_t> routing = intake_.routing();
    const proto::Request& request = intake_.request();
    if (request.op == proto::Op::status) return client_reply_status(routing, now);
    Worker* w = worker_best(request.op);
    if (!w && queues_[static_cast<std::size_t>(request.op)].live >= settings_.queue_max) {
        client_reply_error(routing, request.id, now, ErrorCode::overloaded,
                           "broker queue for this op is full");
        return;
    }
    std::uint64_t token = pending_.acquire();
    Pending& p = *pending_.find(token);
    for (auto& frame : routing) p.client.push_back(std::move(frame));
    p.body = std::move(intake_.body());
    p.op = request.op;
    p.id = request.id;
    p.received = now;
    p.deadline = now + (request.deadline_ms ? milliseconds(*request.deadline_ms)
                                            : settings_.queue_timeout);
    if (w && request_send(token, *w)) return;
    request_queue(token, false);
}

void Broker::client_reply_error(std::span<zmq::message_t> routing,
                                std::optional<std::uint64_t> id, Clock::time_point received,
                                ErrorCode code, std::string_view message) {
    error_reply_send(frontend_, routing, reply_, {id, settings_.name, us_between(received, time_.now())},
                     code, message);
    ++counters_.replied;
}

// The worker table, as a reply to {op: status}.
void Broker::client_reply_status(std::span<zmq::message_t> routing, Clock::time_point received) {
    using proto::pack_str;
    reply_.clear();
    proto::Packer pk(reply_);
    proto::encode_reply_begin(
        pk, {intake_.request().id, settings_.name, us_between(received, time_.now())}, true, 2);
    pack_str(pk, "queued");
    pk.pack_uint64(queued());
    pack_str(pk, "workers");
    pk.pack_array(static_cast<std::uint32_t>(workers_.size()));
    for (const auto& [id, w] : workers_) {
        pk.pack_map(6);
        pack_str(pk, "name");
        pack_str(pk, w.name);
        pack_str(pk, "ops");
        wp::pack_ops(pk, w.ops);
        pack_str(pk, "credit");
        pk.pack_uint32(w.credit);
        pack_str(pk, "inflight");
        pk.pack_uint32(w.inflight);
        pack_str(pk, "served");
        pk.pack_uint64(w.served);
        pack_str(pk, "leaving");
        pk.pack(w.leaving);
    }
    send_routed(frontend_, routing, {reply_.data(), reply_.size()});
    ++counters_.replied;
}

void Broker::request_queue(std::uint64_t token, bool front) {
    Pending& p = *pending_.find(token);
    p.queued = true;
    p.worker.clear();
    OpQueue& q = queues_[static_cast<std::size_t>(p.op)];
    if (front) q.tokens.push_front(token);
    else q.tokens.push_back(token);
    ++q.live;
    expiries_.emplace(p.deadline, token);
}

// A request left its op's queue early (expired). Its token stays in the deque until
// dispatch meets it; once stale tokens outnumber live ones the deque is compacted, so
// a queue nobody serves never grows past twice its bound.
void Broker::queue_leave(proto::Op op) {
    OpQueue& q = queues_[static_cast<std::size_t>(op)];
    --q.live;
    if (q.tokens.size() <= 2 * q.live + 16) return;
    std::erase_if(q.tokens, [&](std::uint64_t token) {
        const Pending* p = pending_.find(token);
        return !p || !p->queued;
    });
}

// The worker serving op with the most free credit, or nullptr when none has any.
Worker* Broker::worker_best(proto::Op op) {
    Worker* best = nullptr;
    for (auto& [id, w] : workers_) {
        if (w.leaving || !(w.ops & wp::op_bit(op)) || w.inflight >= w.credit) continue;
        if (!best || w.credit - w.inflight > best->credit - best->inflight) best = &w;
    }
    return best;
}

// [worker, REQUEST, token, "", request]. The body is copied by reference count, not by
// bytes, so a re-dispatch can send it again.
bool Broker::request_send(std::uint64_t token, Worker& w) {
    Pending& p = *pending_.find(token);
    zmq::message_t body;
    body.copy(p.body);
    try {
        backend_.send(zmq::buffer(w.id), zmq::send_flags::sndmore);
    } catch (const zmq::error_t& e) {
        if (e.num() != EHOSTUNREACH) throw;
        worker_remove(std::string(w.id), "unreachable");
        return false;
    }
    backend_.send(zmq::buffer(wp::kRequest), zmq::send_flags::sndmore);
    backend_.send(zmq::buffer(&token, sizeof token), zmq::send_flags::sndmore);
    backend_.send(zmq::message_t(), zmq::send_flags::sndmore);
    backend_.send(body, zmq::send_flags::none);
    p.queued = false;
    p.worker = w.id;
    ++w.inflight;
    return true;
}

void Broker::queue_dispatch() {
    for (std::size_t op = 0; op < queues_.size(); ++op) {
        OpQueue& q = queues_[op];
        while (!q.tokens.empty()) {
            std::uint64_t token = q.tokens.front();
            Pending* p = pending_.find(token);
            if (!p || !p->queued) { // expired; its count was already taken off
                q.tokens.pop_front();
                continue;
            }
            Worker* w = worker_best(static_cast<proto::Op>(op));
            if (!w) break;
            q.tokens.pop_front();
            --q.live;
            if (!request_send(token, *w)) {
                q.tokens.push_front(token);
                ++q.live;
            }
        }
    }
}

void Broker::queue_expire(Clock::time_point now) {
    while (!expiries_.empty() && expiries_.top().first <= now) {
        std::uint64_t token = expiries_.top().second;
        expiries_.pop();
        Pending* p = pending_.find(token);
        if (!p || !p->queued) continue; // dispatched meanwhile
        client_reply_error(p->client, p->id, p->received, ErrorCode::deadline_exceeded,
                           "no worker took the request before its deadline");
        proto::Op op = p->op;
        pending_.release(token);
        queue_leave(op);
    }
}

// [worker, command, ...]. Any message proves the worker alive.
void Broker::worker_message(Clock::time_point now) {
    if (frames_.size() < 2) {
        ++counters_.dropped;
        return;
    }
    id_scratch_.assign(view(frames_[0]));
    std::string_view command = view(frames_[1]);
    if (command == wp::kReady && frames_.size() == 3)
        return worker_ready(id_scratch_, view(frames_[2]), now);
    auto it = workers_.find(id_scratch_);
    if (it == workers_.end()) {
        // A worker this broker doesn't know (it restarted, or the worker expired): ask
        // it to register again rather than trusting what it sends.
        ++counters_.dropped;
        worker_command(id_scratch_, wp::kBye);
        return;
    }
    Worker& w = it->second;
    w.expiry = now + settings_.liveness * settings_.heartbeat;
    if (command == wp::kRequest) worker_reply(w);
    else if (command == wp::kBye) {
        w.leaving = true;
        LOG_INFO("worker %s is leaving", w.name.c_str());
    } else if (command != wp::kHeartbeat) {
        ++counters_.dropped;
        LOG_WARN("dropped a message from worker %s with an unknown command", w.name.c_str());
    }
}

void Broker::worker_ready(const std::string& id, std::string_view body, Clock::time_point now) {
    auto ready = wp::decode_ready(body);
    if (!ready) {
        ++counters_.dropped;
        LOG_WARN("dropped a malformed READY");
        return;
    }
    if (workers_.count(id)) worker_remove(id, "registered again");
    Worker w{id, ready->name, ready->ops, ready->credit, 0, 0, false,
             now + settings_.liveness * settings_.heartbeat};
    workers_.emplace(id, std::move(w));
    LOG_INFO("worker %s joined with credit %u", ready->name.c_str(), ready->credit);
    queue_dispatch();
}

// [worker, REQUEST, token, "", reply] goes back to the client that asked, once.
void Broker::worker_reply(Worker& w) {
    std::uint64_t token = 0;
    Pending* p = nullptr;
    if (frames_.size() == 5 && frames_[2].size() == sizeof token && frames_[3].size() == 0) {
        std::memcpy(&token, frames_[2].data(), sizeof token);
        p = pending_.find(token);
    }
    if (!p || p->queued || p->worker != w.id) {
        ++counters_.dropped; // a late reply to a request already dispatched elsewhere
        return;
    }
    send_routed(frontend_, p->client, view(frames_[4]));
    pending_.release(token);
    ++counters_.replied;
    ++w.served;
    if (w.inflight) --w.inflight;
    queue_dispatch();
}

void Broker::worker_expire(Clock::time_point now) {
    for (auto it = workers_.begin(); it != workers_.end();) {
        auto next = std::next(it);
        if (it->second.expiry <= now) worker_remove(it->first, "missed its heartbeats");
        it = next;
    }
}

// Forgets a worker; what it was holding goes to the front of the queue for another.
void Broker::worker_remove(const std::string& id, const char* why) {
    auto it = workers_.find(id);
    if (it == workers_.end()) return;
    LOG_WARN("worker %s removed: %s; re-dispatching %u requests", it->second.name.c_str(), why,
             it->second.inflight);
    std::string gone = id;
    workers_.erase(it);
    pending_.for_each([&](std::uint64_t token, Pending& p) {
        if (p.queued || p.worker != gone) return;
        ++counters_.redispatched;
        request_queue(token, true);
    });
    queue_dispatch();
}

void Broker::worker_command(const std::string& id, std::string_view command) {
    try {
        backend_.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        backend_.send(zmq::buffer(command), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
        if (e.num() != EHOSTUNREACH) throw;
    }
}

void Broker::workers_heartbeat(Clock::time_point now) {
    for (const auto& [id, w] : workers_) worker_command(id, wp::kHeartbeat);
    next_heartbeat_ = now + settings_.heartbeat;
}

void Broker::stats_log(Clock::time_point now) {
    double secs = duration<double>(now - last_stats_).count();
    std::uint64_t credit = 0, inflight = 0;
    for (const auto& [id, w] : workers_) credit += w.credit, inflight += w.inflight;
    LOG_INFO("stats: %zu workers, credit %llu (%llu in use), %zu queued, %.0f req/s, "
             "%llu re-dispatched, %llu dropped",
             workers_.size(), static_cast<unsigned long long>(credit),
             static_cast<unsigned long long>(inflight), queued(),
             (counters_.replied - last_counters_.replied) / std::max(secs, 1e-9),
             static_cast<unsigned long long>(counters_.redispatched),
             static_cast<unsigned long long>(counters_.dropped));
    last_counters_ = counters_;
    last_stats_ = now;
}

} // namespace zlb::broker
