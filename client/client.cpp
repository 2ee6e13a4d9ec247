#include "client/client.hpp"

#include "core/factor.hpp"
#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace zlb::client {
namespace {

using namespace std::chrono;

std::uint64_t us_between(Clock::time_point a, Clock::time_point b) {
    return static_cast<std::uint64_t>(duration_cast<microseconds>(b - a).count());
}

// A file name that can't escape the save directory: unsafe characters become '_'.
std::string safe_name(std::size_t index, std::string_view url) {
    if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
    std::string name = std::to_string(index) + "-";
    for (char c : url.substr(0, 120))
        name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
    return name;
}

} // namespace

Client::Client(Settings settings)
    : settings_(std::move(settings)), workload_(settings_.work),
      report_(std::string(proto::to_string(settings_.work.op))), ctx_(1),
      socket_(ctx_, zmq::socket_type::router), monitor_(ctx_, zmq::socket_type::pair) {
    if (settings_.endpoints.empty()) throw std::runtime_error("no endpoints: use --connect");
    if (settings_.window == 0) throw std::runtime_error("--window must be at least 1");
    socket_.set(zmq::sockopt::router_mandatory, 1); // unroutable sends fail, never vanish
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndhwm, 0);
    socket_.set(zmq::sockopt::rcvhwm, 0);
    socket_.set(zmq::sockopt::reconnect_ivl, 100);
    socket_.set(zmq::sockopt::reconnect_ivl_max, 2000);
    // Watch handshakes from before the first connect, or fast ones would go unseen.
    const char* monitor_ep = "inproc://zlb-client-monitor";
    if (zmq_socket_monitor(socket_.handle(), monitor_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
        throw std::runtime_error("zmq_socket_monitor failed");
    monitor_.connect(monitor_ep);
    for (std::size_t i = 0; i < settings_.endpoints.size(); ++i) {
        Peer p{settings_.endpoints[i], std::to_string(i), ""};
        p.alias.insert(0, 1, 'p');
        socket_.set(zmq::sockopt::connect_routing_id, p.alias);
        try {
            socket_.connect(p.endpoint);
        } catch (const zmq::error_t& e) {
            throw std::runtime_error("cannot connect to " + p.endpoint + ": " + e.what());
        }
        peers_.push_back(std::move(p));
    }
    slots_.resize(settings_.window);
    for (std::size_t i = settings_.window; i-- > 0;) free_slots_.push_back(i);
    if (!settings_.results_path.empty()) {
        results_ = std::fopen(settings_.results_path.c_str(), "w");
        if (!results_) throw std::runtime_error("cannot write " + settings_.results_path);
        std::fputs("id,op,server,ok,code,latency_us,service_us\n", results_);
    }
    if (!settings_.save_dir.empty()) std::filesystem::create_directories(settings_.save_dir);
}

Client::~Client() {
    if (results_) std::fclose(results_);
}

// Waits until every endpoint has completed its ZMTP handshake, or connect_wait passes:
// requests then spread over all servers from the first one.
void Client::connect_wait() {
    auto deadline = Clock::now() + settings_.connect_wait;
    std::size_t up = 0;
    while (up < peers_.size() && Clock::now() < deadline) {
        zmq::pollitem_t item{monitor_.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, ceil<milliseconds>(deadline - Clock::now()));
        while (recv_frames(monitor_, frames_)) ++up;
    }
    zmq_socket_monitor(socket_.handle(), nullptr, 0);
    monitor_.close();
    if (up < peers_.size())
        LOG_WARN("%zu of %zu endpoints connected after %lld ms; starting anyway", up,
                 peers_.size(), static_cast<long long>(settings_.connect_wait.count()));
}

// Main loop: fill the window, wait for replies or the earliest deadline, read every
// reply that is waiting, expire what is overdue; until every request has an outcome.
int Client::run() {
    connect_wait();
    started_ = last_progress_ = Clock::now();
    const std::uint64_t total = workload_.total();
    Clock::time_point blocked_since{};
    while (finished_ < total) {
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
        milliseconds wait = blocked ? milliseconds(10) : milliseconds(250);
        if (!deadlines_.empty())
            wait = std::min(wait, ceil<milliseconds>(deadlines_.front().first - now) + 1ms);
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::max(wait, 0ms));
        replies_read();
        timeouts_expire(Clock::now());
        if (settings_.progress) progress_print(false);
    }
    double elapsed = duration<double>(Clock::now() - started_).count();
    if (settings_.progress) progress_print(true);
    report_.finish(total, elapsed);
    for (const auto& p : peers_) report_.endpoint_sent(p.endpoint, p.sent);
    if (!settings_.json_path.empty()) report_.json_write(settings_.json_path);
    return report_.all_ok() ? 0 : 1;
}

bool Client::request_send(std::size_t index) {
    std::size_t slot_at = free_slots_.back();
    Slot& s = slots_[slot_at];
    s.id = static_cast<std::uint64_t>(index) * slots_.size() + slot_at;
    workload_.encode(index, s.id, request_, s.ns);
    std::string_view body(request_.data(), request_.size());
    for (std::size_t tries = 0; tries < peers_.size(); ++tries) {
        std::size_t peer = next_peer_;
        next_peer_ = (next_peer_ + 1) % peers_.size();
        if (!peer_send(peer, body)) continue;
        free_slots_.pop_back();
        ++peers_[peer].sent;
        s.busy = true;
        s.index = index;
        s.peer = peer;
        s.sent = Clock::now();
        deadlines_.emplace_back(s.sent + settings_.timeout, s.id);
        return true;
    }
    return false;
}

// False when the peer is not connected (EHOSTUNREACH) or its queue is full (EAGAIN).
bool Client::peer_send(std::size_t peer, std::string_view body) {
    const std::string& alias = peers_[peer].alias;
    try {
        if (!socket_.send(zmq::buffer(alias), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
            return false;
    } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) return false;
        throw;
    }
    socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::none);
    return true;
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
    Slot& s = slots_[*reply_.id % slots_.size()];
    if (!s.busy || s.id != *reply_.id) {
        report_.late_reply(); // already timed out, or a duplicate
        return;
    }
    peers_[s.peer].name.assign(reply_.server);
    if (!reply_.ok) outcome_error(s, reply_.server, reply_.error_code, reply_.service_us);
    else if (settings_.verify && !reply_verify(s, reply_))
        outcome_error(s, reply_.server, "bad_result", reply_.service_us);
    else outcome_ok(s, reply_);
}

void Client::outcome_ok(Slot& s, const proto::Reply& r) {
    std::uint64_t latency = us_between(s.sent, Clock::now());
    report_.outcome_ok(r.server, latency, r.service_us);
    result_row(s, r.server, true, "", latency, r.service_us);
    if (r.body && !settings_.save_dir.empty()) body_save(s, *r.body);
    slot_release(s);
}

void Client::outcome_error(Slot& s, std::string_view server, std::string_view code,
                           std::uint64_t service_us) {
    std::uint64_t latency = us_between(s.sent, Clock::now());
    report_.outcome_error(server, code, latency, service_us);
    result_row(s, server, false, code, latency, service_us);
    slot_release(s);
}

// Deadlines were queued in send order with one timeout, so the front is the earliest.
void Client::timeouts_expire(Clock::time_point now) {
    while (!deadlines_.empty()) {
        auto [deadline, id] = deadlines_.front();
        Slot& s = slots_[id % slots_.size()];
        bool live = s.busy && s.id == id;
        if (live && deadline > now) break;
        deadlines_.pop_front();
        if (!live) continue;
        const Peer& p = peers_[s.peer];
        std::string_view server = p.name.empty() ? std::string_view(p.endpoint) : p.name;
        report_.outcome_timeout(server);
        result_row(s, server, false, "timeout", us_between(s.sent, now), 0);
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
    ++finished_;
    free_slots_.push_back(static_cast<std::size_t>(&s - slots_.data()));
}

void Client::result_row(const Slot& s, std::string_view server, bool ok, std::string_view code,
                        std::uint64_t latency_us, std::uint64_t service_us) {
    if (!results_) return;
    std::fprintf(results_, "%llu,%s,%.*s,%d,%.*s,%llu,%llu\n",
                 static_cast<unsigned long long>(s.id), proto::to_string(workload_.op()).data(),
                 static_cast<int>(server.size()), server.data(), ok ? 1 : 0,
                 static_cast<int>(code.size()), code.data(),
                 static_cast<unsigned long long>(latency_us),
                 static_cast<unsigned long long>(service_us));
}

// Factor replies must multiply back to the numbers sent, in ascending primes; echo
// replies must carry the payload sent.
bool Client::reply_verify(const Slot& s, const proto::Reply& r) const {
    if (workload_.op() == proto::Op::echo) return r.data == workload_.text(s.index);
    if (workload_.op() != proto::Op::factor) return true;
    if (r.factor_sizes.size() != s.ns.size()) return false;
    std::size_t at = 0;
    for (std::size_t i = 0; i < s.ns.size(); ++i) {
        u128 product = 1, previous = 0;
        for (std::uint32_t k = 0; k < r.factor_sizes[i]; ++k) {
            u128 f = r.factors[at++];
            if (f < previous || f < 2 || product > s.ns[i] / f || !is_prime(f)) return false;
            product *= f;
            previous = f;
        }
        if (product != s.ns[i]) return false;
    }
    return true;
}

void Client::body_save(const Slot& s, std::string_view body) {
    auto path = std::filesystem::path(settings_.save_dir) /
                safe_name(s.index, workload_.text(s.index));
    std::ofstream out(path, std::ios::binary);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    if (!out) LOG_WARN("cannot write %s", path.c_str());
}

void Client::progress_print(bool final) {
    auto now = Clock::now();
    if (!final && now - last_progress_ < 250ms) return;
    last_progress_ = now;
    double secs = duration<double>(now - started_).count();
    const auto& o = report_.overall();
    std::fprintf(stderr, "\r%llu/%llu done  %.0f req/s  ok %llu  failed %llu  timeouts %llu  ",
                 static_cast<unsigned long long>(finished_),
                 static_cast<unsigned long long>(workload_.total()), secs > 0 ? finished_ / secs : 0,
                 static_cast<unsigned long long>(o.ok), static_cast<unsigned long long>(o.errors),
                 static_cast<unsigned long long>(o.timeouts));
    if (final) std::fputc('\n', stderr);
}

} // namespace zlb::client
