// The broker's backend: workers join, heartbeat, reply, leave, die; the ones that hold
// requests too long are struck and quarantined; the best worker for a request.
#include "broker/broker.hpp"

#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <algorithm>
#include <cstring>

namespace zlb::broker {

using namespace std::chrono;
namespace wp = proto::worker;

namespace {

constexpr std::size_t kMaxNameBytes = 64;

// Worker names go into logs and status replies: printable ASCII only, bounded, so a
// name can't forge log lines or carry terminal escapes.
std::string name_printable(std::string_view raw) {
    std::string name;
    for (char c : raw.substr(0, kMaxNameBytes)) name += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (raw.size() > kMaxNameBytes) name += "...";
    return name.empty() ? std::string("?") : name;
}

} // namespace

// [worker, command, ...]. Any message proves the worker alive.
void Broker::worker_message() {
    if (frames_.size() < 2) {
        ++counters_.dropped;
        return;
    }
    id_scratch_.assign(view(frames_[0]));
    std::string_view command = view(frames_[1]);
    if (command == wp::kReady && frames_.size() == 3)
        return worker_ready(id_scratch_, view(frames_[2]));
    auto it = workers_.find(id_scratch_);
    if (it == workers_.end()) {
        // A worker this broker doesn't know (it restarted, or the worker expired): ask
        // it to register again rather than trusting what it sends.
        ++counters_.dropped;
        worker_command(id_scratch_, wp::kBye);
        return;
    }
    Worker& w = it->second;
    w.expiry = now_ + w.silence_max;
    if (command.starts_with(wp::kRequest)) worker_reply(w);
    else if (command == wp::kHeartbeat) worker_command(id_scratch_, wp::kHeartbeat); // its proof we live
    else if (command == wp::kBye) {
        w.leaving = true;
        LOG_INFO("worker %s is leaving", w.name.c_str());
    } else {
        ++counters_.dropped;
        LOG_WARN("dropped a message from worker %s with an unknown command", w.name.c_str());
    }
}

void Broker::worker_ready(const std::string& id, std::string_view body) {
    auto ready = wp::decode_ready(body);
    if (!ready) {
        ++counters_.dropped;
        LOG_WARN("dropped a malformed READY (this broker speaks worker protocol v%llu: a worker of "
                 "another zlb version?)", static_cast<unsigned long long>(wp::kWorkerVersion));
        return;
    }
    if (workers_.count(id)) worker_remove(id, "registered again");
    Worker w;
    w.id = id;
    w.name = name_printable(ready->name);
    w.ops = ready->ops;
    w.metrics_slot = series_.worker_slot(w.name);
    w.credit = std::min({ready->credit, settings_.max_credit, backend_hwm_});
    // Heartbeats come at the worker's interval, which may be slower than this broker's.
    w.silence_max = settings_.liveness *
                    std::max(settings_.heartbeat, std::chrono::milliseconds(ready->heartbeat_ms));
    w.expiry = now_ + w.silence_max;
    if (ready->credit > w.credit)
        LOG_WARN("worker %s claimed credit %u; capped at %u (--max-credit, --peer-queue-bytes)",
                 w.name.c_str(), ready->credit, w.credit);
    LOG_INFO("worker %s joined with credit %u", w.name.c_str(), w.credit);
    workers_.emplace(id, std::move(w));
    queue_dispatch();
}

// [worker, REQUEST+token, reply] goes back to the client that asked, once, relayed as
// it came (the message itself, not a copy of its bytes). Any answer ends the worker's
// quarantine: it has shown it works again.
void Broker::worker_reply(Worker& w) {
    std::uint64_t token = 0;
    Pending* p = nullptr;
    if (auto t = wp::request_token(view(frames_[1])); t && frames_.size() == 3) {
        token = *t;
        p = pending_.find(token);
    }
    if (!p || p->queued || p->worker != w.id) {
        ++counters_.dropped; // a late reply to a request already dispatched elsewhere
        return;
    }
    client_send(p->client, frames_[2]);
    series_.request_relayed(p->op);
    pending_.release(token);
    ++w.served;
    if (w.inflight) --w.inflight;
    if (w.strikes) {
        LOG_INFO("worker %s answered again: out of quarantine", w.name.c_str());
        w.strikes = 0;
        w.quarantined_until = {};
    }
    queue_dispatch();
}

Pending* Broker::held_request(const WorkExpiry& e) {
    Pending* p = pending_.find(e.token);
    return p && !p->queued && p->dispatches == e.dispatch ? p : nullptr;
}

// A worker held a request past --worker-timeout-ms or the request's deadline while it
// went on heartbeating: the request is taken back and the worker struck.
void Broker::work_expire() {
    while (!work_expiries_.empty() && work_expiries_.top().at <= now_) {
        WorkExpiry e = work_expiries_.top();
        work_expiries_.pop();
        Pending* p = held_request(e);
        if (!p) continue; // answered or moved
        auto it = workers_.find(p->worker);
        if (it != workers_.end()) {
            Worker& w = it->second;
            if (w.inflight) --w.inflight;
            worker_strike(w);
        }
        ++counters_.taken_back;
        std::string worker = p->worker;
        request_failed(e.token, *p, worker); // queued again: dispatched at the end of the turn
    }
}

// Quarantine doubles with every strike, up to --quarantine-max: a worker that keeps
// failing gets a request now and then to show it is back, not a stream of them. The
// requests it held when it was struck count as one strike, not one each.
void Broker::worker_strike(Worker& w) {
    if (w.quarantined_until > now_) return;
    ++w.strikes;
    auto backoff = settings_.quarantine * (1LL << std::min<std::uint32_t>(w.strikes - 1, 20));
    backoff = std::min<milliseconds>(backoff, settings_.quarantine_max);
    w.quarantined_until = now_ + backoff;
    LOG_WARN("worker %s held a request too long (strike %u): quarantined for %lld ms",
             w.name.c_str(), w.strikes, static_cast<long long>(backoff.count()));
}

void Broker::worker_expire() {
    for (auto it = workers_.begin(); it != workers_.end();) {
        auto next = std::next(it);
        if (it->second.expiry <= now_) {
            ++series_.heartbeat_misses;
            worker_remove(it->first, "missed its heartbeats");
        }
        it = next;
    }
}

// Forgets a worker; what it was holding goes to the front of the queue for another
// (dispatched at the end of the turn: this may run inside queue_dispatch).
void Broker::worker_remove(const std::string& id, const char* why) {
    auto it = workers_.find(id);
    if (it == workers_.end()) return;
    LOG_WARN("worker %s removed: %s; re-dispatching %u requests", it->second.name.c_str(), why,
             it->second.inflight);
    std::string gone = id;
    series_.worker_slot_release(it->second.metrics_slot);
    workers_.erase(it);
    pending_.for_each([&](std::uint64_t token, Pending& p) {
        if (!p.queued && p.worker == gone) request_failed(token, p, gone);
    });
}

void Broker::worker_command(const std::string& id, std::string_view command) {
    try {
        // A worker whose queue is full misses this command (its heartbeat is the next
        // one); the command frame must then not go out alone, as a routing id.
        if (backend_.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
            backend_.send(zmq::buffer(command), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
        if (e.num() != EHOSTUNREACH) throw;
    }
}

void Broker::workers_heartbeat() {
    for (const auto& [id, w] : workers_) worker_command(id, wp::kHeartbeat);
    next_heartbeat_ = now_ + settings_.heartbeat;
}

// The worker serving op with the most free credit that may take p: not leaving, not
// quarantined, and not one that failed p before. nullptr when there is none.
Worker* Broker::worker_best(proto::Op op, const Pending* p) {
    Worker* best = nullptr;
    for (auto& [id, w] : workers_) {
        if (w.leaving || !(w.ops & wp::op_bit(op)) || w.inflight >= w.credit) continue;
        if (w.quarantined_until > now_ || w.full_until > now_) continue;
        if (p && std::find(p->failed.begin(), p->failed.end(), id) != p->failed.end()) continue;
        if (!best || w.credit - w.inflight > best->credit - best->inflight) best = &w;
    }
    return best;
}

} // namespace zlb::broker
