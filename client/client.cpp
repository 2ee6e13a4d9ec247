#include "client/client.hpp"

#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <array>
#include <filesystem>
#include <stdexcept>

namespace zlb::client {
namespace {

using namespace std::chrono;

std::uint64_t us_between(Clock::time_point a, Clock::time_point b) {
    return static_cast<std::uint64_t>(duration_cast<microseconds>(b - a).count());
}

// Options apply to later connects, so the socket is set up before PeerSet connects it.
zmq::socket_t& socket_configure(zmq::socket_t& socket, const Settings& s) {
    // Sends to a peer that is not connected fail at once (EHOSTUNREACH) instead of
    // vanishing: what ZMQ_IMMEDIATE does for a DEALER. IMMEDIATE itself is left off: with
    // it, libzmq attaches the pipe late and the connect routing alias is lost.
    socket.set(zmq::sockopt::router_mandatory, 1);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, 0);
    socket.set(zmq::sockopt::rcvhwm, 0);
    socket.set(zmq::sockopt::reconnect_ivl, 100);
    socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    // A peer silent for 3 heartbeats is dropped, and its requests go elsewhere.
    int ivl_ms = static_cast<int>(s.heartbeat.count());
    socket.set(zmq::sockopt::heartbeat_ivl, ivl_ms);
    socket.set(zmq::sockopt::heartbeat_timeout, 3 * ivl_ms);
    socket.set(zmq::sockopt::heartbeat_ttl, 3 * ivl_ms);
    if (!s.curve_server_key.empty()) {
        socket.set(zmq::sockopt::curve_serverkey, s.curve_server_key);
        socket.set(zmq::sockopt::curve_publickey, s.curve_public);
        socket.set(zmq::sockopt::curve_secretkey, s.curve_secret);
    }
    return socket;
}

} // namespace

Client::Client(Settings settings)
    : settings_(std::move(settings)), workload_(settings_.work),
      report_(std::string(proto::to_string(settings_.work.op))), ctx_(1),
      socket_(ctx_, zmq::socket_type::router),
      peers_(ctx_, socket_configure(socket_, settings_), settings_.endpoints) {
    if (settings_.endpoints.empty()) throw std::runtime_error("no endpoints: use --connect");
    if (settings_.window == 0) throw std::runtime_error("--window must be at least 1");
    slots_.resize(settings_.window);
    for (std::size_t i = settings_.window; i-- > 0;) free_slots_.push_back(i);
    if (!settings_.results_path.empty()) {
        results_ = std::fopen(settings_.results_path.c_str(), "w");
        if (!results_) throw std::runtime_error("cannot write " + settings_.results_path);
        std::fputs("id,op,server,ok,code,latency_us,service_us,attempts\n", results_);
    }
    if (!settings_.save_dir.empty()) std::filesystem::create_directories(settings_.save_dir);
}

Client::~Client() {
    if (results_) std::fclose(results_);
}

// Requests spread over all servers from the first one when all are connected first.
void Client::connect_wait() {
    std::size_t up = peers_.connected_wait(settings_.connect_wait);
    if (up < peers_.size())
        LOG_WARN("%zu of %zu endpoints connected after %lld ms; starting anyway", up,
                 peers_.size(), static_cast<long long>(settings_.connect_wait.count()));
}

// Main loop: resend what is due for a retry, fill the window with new requests, wait
// for replies or the next deadline, read every reply waiting, fail over the requests of
// peers that dropped, expire overdue attempts; until every request has an outcome.
int Client::run() {
    connect_wait();
    started_ = last_progress_ = Clock::now();
    const std::uint64_t total = workload_.total();
    Clock::time_point blocked_since{};
    while (finished_ < total) {
        retries_send(Clock::now());
        bool blocked = false;
        while (!free_slots_.empty() && next_index_ < total && !blocked) {
            blocked = !request_send(next_index_);
            if (!blocked) ++next_index_;
        }
        auto now = Clock::now();
        if (!blocked) blocked_since = {};
        else if (blocked_since == Clock::time_point{}) blocked_since = now;
        // Nothing could be sent for a whole timeout: no server is there to take work.
        bool idle = free_slots_.size() == slots_.size();
        if (blocked && idle && now - blocked_since > settings_.timeout)
            unsent_fail("no server accepted the request");
        std::array<zmq::pollitem_t, 2> items{{{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                              {peers_.monitor().handle(), 0, ZMQ_POLLIN, 0}}};
        auto wait = ceil<milliseconds>(next_wake(now, blocked) - now);
        zmq::poll(items.data(), items.size(), std::max(wait, 0ms));
        replies_read();
        if (items[1].revents & ZMQ_POLLIN) peers_lost(peers_.events_read(), Clock::now());
        timeouts_expire(Clock::now());
        if (settings_.progress) progress_print(false);
    }
    double elapsed = duration<double>(Clock::now() - started_).count();
    if (settings_.progress) progress_print(true);
    report_.finish(total, elapsed);
    for (const auto& p : peers_.all()) report_.endpoint_sent(p.endpoint, p.sent);
    if (!settings_.json_path.empty()) report_.json_write(settings_.json_path);
    return report_.all_ok() ? 0 : 1;
}

Clock::time_point Client::next_wake(Clock::time_point now, bool blocked) const {
    auto wake = now + (blocked ? 10ms : 250ms);
    if (!deadlines_.empty()) wake = std::min(wake, deadlines_.front().at + 1ms);
    if (!retries_.empty()) wake = std::min(wake, retries_.top().first);
    return wake;
}

bool Client::request_send(std::size_t index) {
    std::size_t slot_at = free_slots_.back();
    Slot& s = slots_[slot_at];
    s.id = static_cast<std::uint64_t>(index) * slots_.size() + slot_at;
    s.index = index;
    s.attempt = 0;
    workload_.encode(index, s.id, request_, s.ns);
    if (!attempt_send(s, std::nullopt)) return false;
    free_slots_.pop_back();
    s.busy = true;
    s.first_sent = s.sent;
    return true;
}

// Sends the slot's request, already encoded in request_, to a peer other than avoid.
bool Client::attempt_send(Slot& s, std::optional<std::size_t> avoid) {
    auto peer = peers_.send_next({request_.data(), request_.size()}, avoid);
    if (!peer) return false;
    s.peer = *peer;
    s.sent = Clock::now();
    s.waiting = false;
    deadlines_.push_back({s.sent + settings_.timeout, s.id, s.attempt});
    return true;
}

// Exponential backoff with jitter, so the retries of many clients don't come in step.
void Client::retry_schedule(Slot& s, Clock::time_point now) {
    ++s.attempt;
    s.waiting = true;
    auto doubled = settings_.backoff * (1LL << std::min(s.attempt - 1, 20u));
    auto delay = std::min<milliseconds>(settings_.backoff_max, doubled);
    delay = delay / 2 + milliseconds(jitter_() % (delay.count() / 2 + 1));
    retries_.emplace(now + delay, s.id);
    report_.retry();
}

void Client::retries_send(Clock::time_point now) {
    while (!retries_.empty() && retries_.top().first <= now) {
        std::uint64_t id = retries_.top().second;
        Slot& s = slots_[id % slots_.size()];
        if (!s.busy || !s.waiting || s.id != id) {
            retries_.pop(); // a late reply to an earlier attempt answered it meanwhile
            continue;
        }
        workload_.encode(s.index, s.id, request_, s.ns);
        if (!attempt_send(s, s.peer)) return; // nobody can take it now; next turn
        retries_.pop();
    }
}

// Requests in flight on a peer that dropped will never be answered: retry them now.
void Client::peers_lost(const std::vector<std::size_t>& lost, Clock::time_point now) {
    for (std::size_t peer : lost) {
        for (Slot& s : slots_) {
            if (!s.busy || s.waiting || s.peer != peer) continue;
            if (s.attempt < settings_.retries) retry_schedule(s, now);
        }
    }
}

std::string_view Client::peer_name(std::size_t peer) const {
    const Peer& p = peers_.all()[peer];
    return p.name.empty() ? std::string_view(p.endpoint) : std::string_view(p.name);
}

void Client::replies_read() {
    while (recv_frames(socket_, frames_)) {
        std::size_t delim = find_delimiter(frames_);
        if (delim + 2 != frames_.size()) {
            report_.invalid_reply();
            continue;
        }
        reply_handle(view(frames_[delim + 1]));
    }
}

void Client::reply_handle(std::string_view body) {
    if (!decoder_.decode(body, reply_, decode_error_) || !reply_.id) {
        report_.invalid_reply();
        LOG_DEBUG("invalid reply: %s", decode_error_.c_str());
        return;
    }
    // A reply to an earlier attempt still counts while the request is open; once it is
    // closed, any further reply is a duplicate and is dropped.
    Slot& s = slots_[*reply_.id % slots_.size()];
    if (!s.busy || s.id != *reply_.id) {
        report_.late_reply();
        return;
    }
    peers_.alive(s.peer);
    peers_[s.peer].name.assign(reply_.server);
    if (!reply_.ok && reply_.error_code == "overloaded" && s.attempt < settings_.retries) {
        if (!s.waiting) retry_schedule(s, Clock::now()); // another server may have room
    } else if (!reply_.ok) {
        outcome_error(s, reply_.server, reply_.error_code, reply_.service_us);
    } else if (settings_.verify && !reply_verify(s, reply_)) {
        outcome_error(s, reply_.server, "bad_result", reply_.service_us);
    } else {
        outcome_ok(s, reply_);
    }
}

void Client::outcome_ok(Slot& s, const proto::Reply& r) {
    std::uint64_t latency = us_between(s.first_sent, Clock::now());
    report_.outcome_ok(r.server, latency, r.service_us);
    result_row(s, r.server, true, "", latency, r.service_us);
    if (r.body && !settings_.save_dir.empty()) body_save(s, *r.body);
    slot_release(s);
}

void Client::outcome_error(Slot& s, std::string_view server, std::string_view code,
                           std::uint64_t service_us) {
    std::uint64_t latency = us_between(s.first_sent, Clock::now());
    report_.outcome_error(server, code, latency, service_us);
    result_row(s, server, false, code, latency, service_us);
    slot_release(s);
}

// Deadlines were queued in send order with one timeout, so the front is the earliest.
void Client::timeouts_expire(Clock::time_point now) {
    while (!deadlines_.empty()) {
        Deadline d = deadlines_.front();
        Slot& s = slots_[d.id % slots_.size()];
        bool live = s.busy && !s.waiting && s.id == d.id && s.attempt == d.attempt;
        if (live && d.at > now) break;
        deadlines_.pop_front();
        if (!live) continue;
        report_.attempt_timeout(peer_name(s.peer));
        // Leave a silent peer out of the rotation for a while; any reply brings it back.
        peers_.suspect(s.peer, now + 3 * settings_.heartbeat);
        if (s.attempt < settings_.retries) {
            retry_schedule(s, now);
            continue;
        }
        report_.outcome_timeout(peer_name(s.peer));
        result_row(s, peer_name(s.peer), false, "timeout", us_between(s.first_sent, now), 0);
        slot_release(s);
    }
}

void Client::unsent_fail(std::string_view why) {
    LOG_ERROR("%s within %lld ms; %zu requests end as timeouts", std::string(why).c_str(),
              static_cast<long long>(settings_.timeout.count()), workload_.total() - next_index_);
    for (; next_index_ < workload_.total(); ++next_index_) {
        report_.outcome_timeout("");
        ++finished_;
    }
}

void Client::slot_release(Slot& s) {
    s.busy = false;
    s.waiting = false;
    ++finished_;
    free_slots_.push_back(static_cast<std::size_t>(&s - slots_.data()));
}

} // namespace zlb::client
