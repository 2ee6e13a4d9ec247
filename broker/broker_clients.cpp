// The broker's frontend: client requests, the per-op queues, and sending a request to
// a worker (with what is left of its deadline).
#include "broker/broker.hpp"

#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace zlb::broker {

using namespace std::chrono;
using proto::ErrorCode;
namespace wp = proto::worker;

namespace {

// The key FailureMemory knows a request by: the client's routing frames and its id.
void failure_key_make(std::string& key, std::span<const zmq::message_t> routing,
                      std::optional<std::uint64_t> id) {
    key.clear();
    for (const auto& f : routing) {
        key.append(view(f));
        key.push_back('\0');
    }
    std::uint64_t v = id.value_or(0);
    key.append(reinterpret_cast<const char*>(&v), sizeof v);
}

} // namespace

// The intake answers malformed requests like a server would; status is answered here,
// and everything else goes to a worker or waits in its op's queue.
void Broker::client_request() {
    ++counters_.received;
    switch (intake_.take(frames_)) {
    case RequestIntake::Verdict::dropped:
        ++counters_.dropped;
        return;
    case RequestIntake::Verdict::refused: {
        const auto& r = intake_.refusal();
        series_.request_answered(std::nullopt, r.code);
        return client_reply_error(intake_.routing(), r.id, now_, r.code, r.message);
    }
    case RequestIntake::Verdict::request:
        break;
    }
    std::span<zmq::message_t> routing = intake_.routing();
    const proto::Request& request = intake_.request();
    if (request.op == proto::Op::status) return client_reply_status(routing, now_);
    if (!workers_.empty() && !op_served(request.op)) {
        series_.request_answered(request.op, ErrorCode::unsupported_op);
        return client_reply_error(routing, request.id, now_, ErrorCode::unsupported_op,
                                  "no worker of this broker serves this op");
    }
    std::uint64_t token = pending_.acquire();
    Pending& p = *pending_.find(token);
    if (!failures_.empty()) { // a resend of a request some worker failed?
        failure_key_make(key_scratch_, routing, request.id);
        if (const auto* failed = failures_.find(key_scratch_)) p.failed = *failed;
    }
    Worker* w = worker_best(request.op, &p);
    std::size_t bytes = intake_.body().size();
    for (const auto& f : routing) bytes += f.size();
    const char* full = nullptr;
    if (!w && queues_[static_cast<std::size_t>(request.op)].live >= settings_.queue_max)
        full = "broker queue for this op is full";
    else if (pending_.bytes() + bytes > settings_.held_max_bytes)
        full = "broker holds --held-max-bytes of requests already";
    if (full) {
        series_.request_answered(request.op, ErrorCode::overloaded);
        pending_.release(token);
        client_reply_error(routing, request.id, now_, ErrorCode::overloaded, full);
        return;
    }
    pending_.hold(p, bytes);
    for (auto& frame : routing) p.client.push_back(std::move(frame));
    p.body = std::move(intake_.body());
    p.op = request.op;
    p.id = request.id;
    p.received = now_;
    p.client_deadline = request.deadline_ms.has_value();
    p.deadline = now_ + (request.deadline_ms ? milliseconds(*request.deadline_ms)
                                             : settings_.queue_timeout);
    if (w && request_send(token, *w)) return;
    request_queue(token, false);
}

// With no workers at all the request waits: workers may be joining (a restarted
// broker). With workers, none of which serves the op, it would wait for nothing.
bool Broker::op_served(proto::Op op) const {
    for (const auto& [id, w] : workers_)
        if (w.ops & wp::op_bit(op)) return true;
    return false;
}

void Broker::client_reply_error(std::span<zmq::message_t> routing,
                                std::optional<std::uint64_t> id, Clock::time_point received,
                                ErrorCode code, std::string_view message) {
    proto::encode_error(reply_, {id, settings_.name, us_between(received, time_.now())}, code,
                        message);
    client_send(routing, {reply_.data(), reply_.size()});
}

// The worker table, as a reply to {op: status}.
void Broker::client_reply_status(std::span<zmq::message_t> routing, Clock::time_point received) {
    using proto::pack_str;
    series_.request_answered(proto::Op::status, std::nullopt);
    reply_.clear();
    proto::Packer pk(reply_);
    proto::encode_reply_begin(
        pk, {intake_.request().id, settings_.name, us_between(received, time_.now())}, true, 7);
    pack_str(pk, "queued");
    pk.pack_uint64(queued());
    pack_str(pk, "held_bytes");
    pk.pack_uint64(pending_.bytes());
    pack_str(pk, "received");
    pk.pack_uint64(counters_.received);
    pack_str(pk, "replied");
    pk.pack_uint64(counters_.replied);
    pack_str(pk, "replies_dropped");
    pk.pack_uint64(counters_.replies_dropped.count);
    pack_str(pk, "taken_back");
    pk.pack_uint64(counters_.taken_back);
    pack_str(pk, "workers");
    pk.pack_array(static_cast<std::uint32_t>(workers_.size()));
    for (const auto& [id, w] : workers_) {
        pk.pack_map(8);
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
        pack_str(pk, "strikes");
        pk.pack_uint32(w.strikes);
        pack_str(pk, "quarantined_ms"); // left of its quarantine; 0 when it takes work
        pk.pack_uint64(w.quarantined_until > now_
                           ? ceil<milliseconds>(w.quarantined_until - now_).count()
                           : 0);
    }
    client_send(routing, {reply_.data(), reply_.size()});
}

// Every reply to a client goes out here. A client whose queue is full for a moment has it
// held in the bounded backlog; one that does not read, or is gone, loses it: the broker
// never holds more for it than --peer-queue-bytes and the backlog's bound.
void Broker::client_send(std::span<zmq::message_t> routing, std::string_view body) {
    zmq::message_t m(body.data(), body.size());
    client_send(routing, m);
}

void Broker::client_send(std::span<zmq::message_t> routing, zmq::message_t& body) {
    (void)backlog_.send(frontend_, routing, body, now_); // counts what it drops
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
    expiries_.push({p.deadline, token}, pending_.used(),
                   [&](const QueueExpiry& e) { return !queued_request(e); });
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

// [worker, REQUEST+token, request]. The body is copied by reference count, not by
// bytes, so a re-dispatch can send it again; a request with deadline_ms is re-encoded
// with what is left of it, so the worker does not work past the client's deadline.
bool Broker::request_send(std::uint64_t token, Worker& w) {
    Pending& p = *pending_.find(token);
    zmq::message_t body;
    auto left = ceil<milliseconds>(p.deadline - now_).count();
    if (p.client_deadline &&
        proto::request_deadline_set(view(p.body), static_cast<std::uint32_t>(std::max<long>(left, 1)),
                                    forward_))
        body.rebuild(forward_.data(), forward_.size());
    else
        body.copy(p.body);
    try {
        if (!backend_.send(zmq::buffer(w.id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
            w.full_until = now_ + 10ms; // its queue is full: let it drain
            return false;
        }
    } catch (const zmq::error_t& e) {
        if (e.num() != EHOSTUNREACH) throw;
        worker_remove(std::string(w.id), "unreachable");
        return false;
    }
    const auto head = wp::request_frame(token);
    backend_.send(zmq::buffer(head), zmq::send_flags::sndmore);
    backend_.send(body, zmq::send_flags::none);
    p.queued = false;
    p.worker = w.id;
    ++p.dispatches;
    if (!std::exchange(p.sent, true))
        series_.queue_wait[static_cast<std::size_t>(p.op)].observe_us(us_between(p.received, now_));
    ++w.inflight;
    work_expiries_.push({std::min(now_ + settings_.worker_timeout, p.deadline), token, p.dispatches},
                        pending_.used(), [&](const WorkExpiry& e) { return !held_request(e); });
    return true;
}

// A worker failed the request (took too long, or died holding it): it is never sent
// there again, nor is the client's resend of it; it goes first in line elsewhere, or
// ends as deadline_exceeded when its deadline has passed.
void Broker::request_failed(std::uint64_t token, Pending& p, const std::string& worker) {
    if (std::find(p.failed.begin(), p.failed.end(), worker) == p.failed.end() &&
        p.failed.size() < FailureMemory::kMaxPerRequest)
        p.failed.push_back(worker);
    failure_key_make(key_scratch_, p.client, p.id);
    failures_.note(key_scratch_, worker);
    if (p.deadline <= now_) {
        series_.request_answered(p.op, ErrorCode::deadline_exceeded);
        client_reply_error(p.client, p.id, p.received, ErrorCode::deadline_exceeded,
                           "the worker holding the request did not answer before its deadline");
        pending_.release(token);
        return;
    }
    ++counters_.redispatched;
    request_queue(token, true);
}

// Hands queued requests, oldest first, to the best worker each may go to. A request
// that no worker may take (every worker with credit has failed it) is passed over, so
// it does not hold up the requests behind it, and goes back to the front afterwards.
void Broker::queue_dispatch() {
    for (std::size_t op = 0; op < queues_.size(); ++op) {
        OpQueue& q = queues_[op];
        passed_.clear();
        while (!q.tokens.empty()) {
            std::uint64_t token = q.tokens.front();
            Pending* p = pending_.find(token);
            if (!p || !p->queued) { // expired; its count was already taken off
                q.tokens.pop_front();
                continue;
            }
            Worker* w = worker_best(static_cast<proto::Op>(op), p);
            if (!w && (p->failed.empty() || !worker_best(static_cast<proto::Op>(op), nullptr)))
                break; // nobody has room
            q.tokens.pop_front();
            if (!w) {
                passed_.push_back(token);
                continue;
            }
            --q.live;
            // A failed send removes that worker, which queues its requests in front.
            if (!request_send(token, *w)) {
                q.tokens.push_front(token);
                ++q.live;
            }
        }
        for (auto it = passed_.rbegin(); it != passed_.rend(); ++it) q.tokens.push_front(*it);
    }
}

Pending* Broker::queued_request(const QueueExpiry& e) {
    Pending* p = pending_.find(e.token);
    return p && p->queued ? p : nullptr;
}

void Broker::queue_expire() {
    while (!expiries_.empty() && expiries_.top().at <= now_) {
        std::uint64_t token = expiries_.top().token;
        Pending* p = queued_request(expiries_.top());
        expiries_.pop();
        if (!p) continue; // dispatched meanwhile
        series_.request_answered(p->op, ErrorCode::deadline_exceeded);
        client_reply_error(p->client, p->id, p->received, ErrorCode::deadline_exceeded,
                           "no worker took the request before its deadline");
        proto::Op op = p->op;
        pending_.release(token);
        queue_leave(op);
    }
}

} // namespace zlb::broker
