#include "client/client.hpp"

#include "client/endpoints.hpp"
#include "client/units.hpp"
#include "core/log.hpp"
#include "core/signals.hpp"
#include "core/zap.hpp"
#include "core/zmq_util.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <stdexcept>

namespace zlb::client {
namespace {

using namespace std::chrono;

// Checked before anything connects, so a bad combination costs no connection attempt.
Settings settings_check(Settings s) {
    if (s.rate < 0 || s.duration_s < 0 || s.warmup_s < 0 || s.interval_s < 0)
        throw std::runtime_error("--rate, --duration, --warmup and --interval can't be negative");
    if (s.grace < 0ms) throw std::runtime_error("--grace can't be negative");
    if (!s.json_path.empty() && s.json_path == s.output_path)
        throw std::runtime_error("--json and --output can't both write " + s.json_path);
    // The same endpoint twice would be two connections to one server, and a wait for a
    // second handshake that never comes on some transports: connect it once.
    std::vector<std::string> repeats;
    s.endpoints = endpoints_unique(s.endpoints, repeats);
    for (const auto& ep : repeats) LOG_WARN("%s is given more than once: connecting it once", ep.c_str());
    if (s.duration_s > 0 && s.warmup_s >= s.duration_s)
        throw std::runtime_error("--warmup must be shorter than --duration");
    s.work.cycle = s.duration_s > 0;
    // The plot's time series and the interval log need intervals even when none were
    // asked for.
    if (s.interval_s == 0 && (!s.plot_path.empty() || !s.hlog_path.empty())) s.interval_s = 1;
    return s;
}

// A peer's DEALER, set up before PeerSet connects it (options apply to later connects).
void socket_configure(zmq::socket_t& socket, const Settings& s) {
    // PeerSet sends only to peers whose handshake it has seen. ZMQ_IMMEDIATE is left off:
    // with it a disconnect ends the pipe at once and drops the replies that came in but
    // were not read yet, and a server that drains on SIGTERM sends its last replies just
    // before it closes. Without it a request sent in the moment before a disconnect is
    // seen waits in the pipe for the reconnect; its attempt is failed over meanwhile, and
    // a reply to it later is a late reply.
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, 0);
    socket.set(zmq::sockopt::rcvhwm, 0);
    socket.set(zmq::sockopt::reconnect_ivl, 100);
    socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    // A peer silent for 3 heartbeats is dropped, and its requests go elsewhere.
    heartbeats_set(socket, s.heartbeat);
    if (!s.curve_server_key.empty())
        curve_client_set(socket, {s.curve_public, s.curve_secret}, s.curve_server_key);
}

} // namespace

Client::Client(Settings settings, EngineEnv env)
    : settings_(settings_check(std::move(settings))), time_(env.time), stop_fd_(env.stop_fd),
      workload_(settings_.work),
      report_(std::string(proto::to_string(settings_.work.op)),
              RunMode{settings_.rate > 0, settings_.rate, settings_.warmup_s, settings_.interval_s > 0}),
      peers_(env.zmq, [this](zmq::socket_t& s) { socket_configure(s, settings_); },
             settings_.endpoints) {
    if (settings_.endpoints.empty()) throw std::runtime_error("no endpoints: use --connect");
    if (settings_.window == 0) throw std::runtime_error("--window must be at least 1");
    peers_.curve_set(!settings_.curve_server_key.empty());
    // The poll set's layout (see running_poll); zmq_poll resets revents on every call.
    peers_.socket_items(poll_items_);
    peers_.monitor_items(poll_items_);
    poll_items_.push_back({nullptr, wake_timer_.fd(), ZMQ_POLLIN, 0});
    poll_items_.push_back({nullptr, stop_fd_, ZMQ_POLLIN, 0});
    slots_.resize(settings_.window);
    for (std::size_t i = settings_.window; i-- > 0;) free_slots_.push_back(i);
    if (!settings_.results_path.empty()) {
        results_.open(settings_.results_path);
        results_.row("id,op,server,ok,code,latency_us,service_us,attempts,item,input_line,"
                     "http_status,message\n");
    }
    if (!settings_.output_path.empty()) output_.open(settings_.output_path);
    if (!settings_.save_dir.empty()) std::filesystem::create_directories(settings_.save_dir);
    if (!settings_.hlog_path.empty()) report_.hlog_open(settings_.hlog_path);
    connect_deadline_ = time_.now() + settings_.connect_wait;
}

// The run has two phases. Connecting: wait until every endpoint has completed its
// handshake, or --connect-wait-ms passed, so requests spread over all servers from the
// first one. Running: each turn resends what is due for a retry, sends new requests
// (closed loop: while the window has room; open loop: those due on the timetable), waits
// for replies or the next deadline, reads every reply waiting, fails over the requests
// of peers that dropped and expires overdue attempts; until nothing is left to issue and
// nothing is in flight.
int Client::run() {
    while (!done()) poll_once(milliseconds(1000));
    if (aborted_) {
        results_.flush();
        output_.flush();
        return 130;
    }
    return finish();
}

void Client::poll_once(milliseconds max_wait) {
    if (phase_ == Phase::connecting) connecting_poll(max_wait);
    else if (phase_ == Phase::running) running_poll(max_wait);
}

// Signals, read from the StopSignals fd: the first stops sending and starts the grace
// for replies in flight, a second ends the run at once.
void Client::stop_read(Clock::time_point now) {
    int signals = stop_signals_read(stop_fd_);
    for (int i = 0; i < signals; ++i) {
        if (interrupted_) {
            aborted_ = true;
            phase_ = Phase::done;
            if (settings_.progress) std::fputs("\r\033[K", stderr);
            std::fprintf(stderr, "zlb-client: interrupted again: quitting without a report\n");
            return;
        }
        interrupt(now);
    }
}

void Client::interrupt(Clock::time_point now) {
    interrupted_ = true;
    issue_end_ = now;
    grace_end_ = now + settings_.grace;
    if (settings_.progress) std::fputs("\r\033[K", stderr);
    std::fprintf(stderr,
                 "zlb-client: interrupted: sending stopped; waiting up to %.1f s for %zu replies "
                 "in flight (interrupt again to quit at once)\n",
                 duration<double>(settings_.grace).count(),
                 in_flight());
}

// "tcp://a:1 (connection refused ...), tcp://b:2 (...)": the endpoints not up, and why.
std::string Client::peers_missing() const {
    std::string out;
    for (std::size_t i = 0; i < peers_.size(); ++i) {
        if (peers_.all()[i].connected) continue;
        if (!out.empty()) out += "; ";
        out += peers_.all()[i].endpoint + " (" + peers_.problem(i) + ")";
    }
    return out;
}

void Client::connecting_poll(milliseconds max_wait) {
    if (connected_) return start_wait(max_wait);
    auto now = time_.now();
    auto waiting = [&] {
        return peers_.connected() < peers_.size() && now < connect_deadline_ && !peers_.hopeless();
    };
    if (waiting()) {
        // The monitors, then the stop fd (the running poll set without sockets and timer).
        std::vector<zmq::pollitem_t> items;
        peers_.monitor_items(items);
        items.push_back({nullptr, stop_fd_, ZMQ_POLLIN, 0});
        zmq::poll(items.data(), stop_fd_ >= 0 ? items.size() : items.size() - 1,
                  std::min(max_wait, std::max(ceil<milliseconds>(connect_deadline_ - now), 0ms)));
        peers_.events_read();
        now = time_.now();
        if (stop_fd_ >= 0 && (items.back().revents & ZMQ_POLLIN)) {
            stop_read(now);
            if (interrupted_) { // nothing was sent: nothing to wait for
                running_start(now);
                phase_ = Phase::done;
                return;
            }
        }
    }
    if (waiting()) return;
    std::size_t up = peers_.connected();
    auto waited = static_cast<long long>(duration_cast<milliseconds>(now - (connect_deadline_ - settings_.connect_wait)).count());
    if (up == 0 && !settings_.wait_anyway) {
        // Waiting for the timeouts would only add a long silence to what is known now.
        for (std::size_t i = 0; i < peers_.size(); ++i)
            LOG_ERROR("%s is not up: %s", peers_.all()[i].endpoint.c_str(), peers_.problem(i).c_str());
        LOG_ERROR("no endpoint is up after %lld ms: ending the run (--wait-anyway starts it anyway)",
                  waited);
        running_start(now);
        unsent_fail("no endpoint is up");
        none_up_ = true;
        phase_ = Phase::done;
        return;
    }
    if (up < peers_.size())
        LOG_WARN("%zu of %zu endpoints connected after %lld ms; starting without %s", up,
                 peers_.size(), waited, peers_missing().c_str());
    connected_ = true;
    start_wait(0ms);
}

// --start-at: waits on the wall clock (the hosts' clocks are what agree) for the start,
// still answering stop signals; a client past it starts at once and says how late.
void Client::start_wait(milliseconds max_wait) {
    if (settings_.start_at_ms) {
        const auto epoch_now = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
        const milliseconds left = milliseconds(*settings_.start_at_ms) - epoch_now;
        if (left > 0ms) {
            if (!start_wait_logged_)
                LOG_INFO("connected; waiting %.3f s for --start-at %lld",
                         duration<double>(left).count(), static_cast<long long>(*settings_.start_at_ms));
            start_wait_logged_ = true;
            zmq::pollitem_t item{nullptr, stop_fd_, ZMQ_POLLIN, 0};
            zmq::poll(&item, stop_fd_ >= 0 ? 1 : 0, std::min(max_wait, left));
            if (stop_fd_ >= 0 && (item.revents & ZMQ_POLLIN)) {
                stop_read(time_.now());
                if (interrupted_) { // nothing was sent: nothing to wait for
                    running_start(time_.now());
                    phase_ = Phase::done;
                }
            }
            return;
        }
        const double late_ms = double(-left.count());
        report_.start_late(late_ms);
        if (late_ms > double(Schedule::kLateAfter.count()))
            LOG_WARN("starting %.0f ms after --start-at %lld: this client's schedule is late",
                     late_ms, static_cast<long long>(*settings_.start_at_ms));
    }
    running_start(time_.now());
}

void Client::running_start(Clock::time_point now) {
    phase_ = Phase::running;
    started_ = last_progress_ = interval_start_ = now;
    report_.hlog_start(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
    warmup_end_ = started_ + seconds_of(settings_.warmup_s);
    limit_ = workload_.total();
    if (settings_.rate > 0) {
        schedule_.emplace(settings_.rate, started_);
        if (settings_.duration_s > 0) limit_ = schedule_->count_within(settings_.duration_s);
    } else if (settings_.duration_s > 0) {
        issue_end_ = started_ + seconds_of(settings_.duration_s);
    }
}

void Client::running_poll(milliseconds max_wait) {
    if (!interrupted_) retries_send(time_.now()); // interrupted: nothing more is sent
    bool blocked = false;
    requests_send(time_.now(), blocked);
    auto now = time_.now();
    if (!blocked) blocked_since_ = {};
    else if (blocked_since_ == Clock::time_point{}) blocked_since_ = now;
    // Nothing could be sent for a whole timeout: no server is there to take work.
    bool idle = free_slots_.size() == slots_.size();
    if (blocked && idle && now - blocked_since_ > settings_.timeout)
        unsent_fail("no server accepted the request within " +
                    std::to_string(settings_.timeout.count()) + " ms");
    bool on_time = false;
    auto wake = std::min(next_wake(now, blocked, on_time), now + max_wait);
    if (on_time) wake_timer_.arm(wake, now);
    // poll_items_: the peers' sockets and their monitors by fd (edge-triggered: see
    // PeerSet::socket_items), the wake timer, the stop fd. Sockets sent to this turn are
    // read first; if that found replies, the wait is skipped: their slots are free.
    const std::size_t n = peers_.size();
    auto& items = poll_items_;
    peers_.reads_due_take(reads_due_);
    bool read_any = false;
    for (std::size_t peer : reads_due_) read_any |= replies_read(peer);
    std::size_t count = stop_fd_ >= 0 ? items.size() : items.size() - 1;
    zmq::poll(items.data(), count,
              read_any ? 0ms : std::max(ceil<milliseconds>(wake - now), 0ms));
    if (items[2 * n].revents & ZMQ_POLLIN) wake_timer_.clear();
    if (stop_fd_ >= 0 && (items[2 * n + 1].revents & ZMQ_POLLIN)) {
        stop_read(time_.now());
        if (aborted_) return;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (items[i].revents & ZMQ_POLLIN) replies_read(i);
    bool events = false;
    for (std::size_t i = n; i < 2 * n; ++i) events |= (items[i].revents & ZMQ_POLLIN) != 0;
    if (events) peers_lost(peers_.events_read(), time_.now());
    timeouts_expire(time_.now());
    now = time_.now();
    if (settings_.interval_s > 0) intervals_close(now, false);
    if (settings_.progress) progress_print(false);
    results_.flush_if_due(now);
    output_.flush_if_due(now);
    if (interrupted_) {
        // Requests waiting for a resend will not get one: only those sent are waited for.
        bool sent_open = std::any_of(slots_.begin(), slots_.end(),
                                     [](const Slot& s) { return s.busy && !s.waiting; });
        if (!sent_open || now >= grace_end_) phase_ = Phase::done;
        return;
    }
    if (!issuing(now) && free_slots_.size() == slots_.size()) phase_ = Phase::done;
}

int Client::finish() {
    // Time ran out (closed loop --duration) while no server would take the next request:
    // that request fails rather than the run passing with nothing measured.
    if (blocked_since_ != Clock::time_point{} && !interrupted_)
        unsent_fail("no server accepted the request within " +
                    std::to_string(settings_.timeout.count()) + " ms");
    phase_ = Phase::done;
    auto end = time_.now();
    if (settings_.interval_s > 0) intervals_close(end, true);
    report_.hlog_finish(duration<double>(end - started_).count());
    if (settings_.progress) progress_print(true);
    report_.finish(duration<double>(end - started_).count());
    if (interrupted_) {
        std::optional<std::uint64_t> unsent;
        if (limit_ != SIZE_MAX) unsent = limit_ - std::min(limit_, next_index_);
        report_.interrupted(unsent, in_flight(), duration<double>(settings_.grace).count());
    }
    report_.slo_evaluate(settings_.slos);
    for (std::size_t i = 0; i < peers_.size(); ++i) {
        const Peer& p = peers_.all()[i];
        report_.endpoint_state(p.endpoint, {p.sent, p.connected, peers_.problem(i)});
    }
    results_.flush();
    output_.flush();
    outputs_write();
    // No endpoint up is a failure to run, whatever the thresholds say of nothing.
    if (none_up_ && !interrupted_) return 1;
    return report_.exit_code();
}

bool Client::issuing(Clock::time_point now) const {
    return next_index_ < limit_ && now < issue_end_;
}

void Client::requests_send(Clock::time_point now, bool& blocked) {
    while (!free_slots_.empty() && issuing(now) && !blocked) {
        if (schedule_ && schedule_->due(next_index_) > now) break;
        blocked = !request_send(next_index_);
        if (!blocked) ++next_index_;
    }
}

// on_time: the wake is a send due on the timetable, which the timerfd catches to the
// microsecond rather than the poll timeout's millisecond.
Clock::time_point Client::next_wake(Clock::time_point now, bool blocked, bool& on_time) const {
    auto wake = now + (blocked ? 10ms : 250ms);
    if (!deadlines_.empty()) wake = std::min(wake, deadlines_.front().at + 1ms);
    // A due retry that nobody could take is tried again in 10 ms, not in a busy loop.
    if (!retries_.empty())
        wake = std::min(wake, retry_blocked_ ? std::max(retries_.top().first, now + 10ms)
                                             : retries_.top().first);
    if (settings_.interval_s > 0)
        wake = std::min(wake, interval_start_ + seconds_of(settings_.interval_s));
    if (interrupted_) wake = std::min(wake, grace_end_);
    if (schedule_ && !blocked && !free_slots_.empty() && issuing(now)) {
        auto due = schedule_->due(next_index_);
        if (due < wake) {
            wake = due;
            on_time = true;
        }
    }
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
    s.due = schedule_ ? schedule_->due(index) : s.sent;
    s.warmup = s.due < warmup_end_;
    if (schedule_ && Schedule::late(s.due, s.sent, window_freed_)) report_.late_start();
    return true;
}

// Sends the slot's request, already encoded in request_, to a peer other than avoid.
bool Client::attempt_send(Slot& s, std::optional<std::size_t> avoid) {
    auto now = time_.now(); // before the send, which is part of the latency
    auto peer = peers_.send_next({request_.data(), request_.size()}, avoid, now, server_cap());
    if (!peer) return false;
    s.peer = *peer;
    s.sent = now;
    s.waiting = false;
    deadlines_.push_back({s.sent + settings_.timeout, s.id, s.attempt});
    // Answered attempts leave their deadline behind until it reaches the front. Behind one
    // slow attempt that is every attempt sent for a whole timeout (30 s at 400,000 req/s:
    // 288 MB), so once the stale outnumber the live (at most one per slot) they are swept.
    // Amortised O(1) per send; the order, and so the front, is kept.
    if (deadlines_.size() > 2 * slots_.size() + kDeadlineSlack)
        std::erase_if(deadlines_, [&](const Deadline& d) { return !deadline_live(d); });
    return true;
}

bool Client::deadline_live(const Deadline& d) const {
    const Slot& s = slots_[d.id % slots_.size()];
    return s.busy && !s.waiting && s.id == d.id && s.attempt == d.attempt;
}

// Open loop: at most an even share of the window per server up (rounded up), so a stalled
// server can hold no more than its share and the others keep the timetable.
std::size_t Client::server_cap() const {
    if (settings_.max_per_server) return *settings_.max_per_server ? *settings_.max_per_server : SIZE_MAX;
    if (!schedule_) return SIZE_MAX;
    std::size_t up = std::max<std::size_t>(peers_.connected(), 1);
    return (slots_.size() + up - 1) / up;
}

// Exponential backoff with jitter, so the retries of many clients don't come in step.
// A request whose server is gone needs no backoff: it is resent at the next turn.
void Client::retry_schedule(Slot& s, Clock::time_point now, Backoff backoff) {
    peers_.attempt_over(s.peer);
    ++s.attempt;
    s.waiting = true;
    milliseconds delay{0};
    if (backoff == Backoff::on) {
        auto doubled = settings_.backoff * (1LL << std::min(s.attempt - 1, 20u));
        delay = std::min<milliseconds>(settings_.backoff_max, doubled);
        delay = delay / 2 + milliseconds(jitter_() % (delay.count() / 2 + 1));
    }
    retries_.emplace(now + delay, s.id);
    report_.retry();
}

void Client::retries_send(Clock::time_point now) {
    retry_blocked_ = false;
    while (!retries_.empty() && retries_.top().first <= now) {
        std::uint64_t id = retries_.top().second;
        Slot& s = slots_[id % slots_.size()];
        if (!s.busy || !s.waiting || s.id != id) {
            retries_.pop(); // a late reply to an earlier attempt answered it meanwhile
            continue;
        }
        workload_.encode(s.index, s.id, request_, s.ns);
        if (attempt_send(s, s.peer)) {
            retries_.pop();
            continue;
        }
        // Nobody can take it now. Try again shortly (see next_wake), until it has waited
        // a whole timeout: then no server is there, and it ends as a timeout.
        retry_blocked_ = true;
        if (now - retries_.top().first < settings_.timeout) return;
        retries_.pop();
        timeout_final(s, now, "no server could take the resend");
    }
}

// Requests in flight on a peer that dropped will never be answered: retry them now.
void Client::peers_lost(const std::vector<std::size_t>& lost, Clock::time_point now) {
    if (interrupted_) return; // nothing is resent now: they stay in flight
    for (std::size_t peer : lost) {
        for (Slot& s : slots_) {
            if (!s.busy || s.waiting || s.peer != peer) continue;
            if (s.attempt < settings_.retries) retry_schedule(s, now, Backoff::off);
        }
    }
}

std::string_view Client::peer_name(std::size_t peer) const {
    const Peer& p = peers_.all()[peer];
    return p.name.empty() ? std::string_view(p.endpoint) : std::string_view(p.name);
}

// ["", body] on peer's socket: the socket says which peer answered, which may not be the
// one the request's current attempt went to. Read until EAGAIN, as its edge-triggered fd
// needs, or for kRepliesPerRead messages: then the peer stays due, and a server that
// floods the client can't keep it from its timers and the other servers.
bool Client::replies_read(std::size_t peer) {
    for (std::size_t i = 0; i < kRepliesPerRead; ++i) {
        if (!recv_frames(peers_.socket(peer), frames_)) return i > 0;
        if (frames_.size() != 2 || frames_[0].size() != 0) {
            report_.invalid_reply("reply not [\"\", body]");
            continue;
        }
        reply_handle(peer, view(frames_[1]));
    }
    peers_.read_due(peer);
    return true;
}

void Client::reply_handle(std::size_t from, std::string_view body) {
    const bool decoded = decoder_.decode(body, reply_, decode_error_);
    if (!decoded || !reply_.id) {
        std::string why = decoded ? "reply without an id" : decode_error_;
        // A refusal without an id (the server could not read it) still says what it was.
        if (!reply_.error_code.empty())
            why = std::string(reply_.error_code) + " without an id: " + std::string(reply_.error_message);
        report_.invalid_reply(why);
        LOG_DEBUG("invalid reply: %s", why.c_str());
        return;
    }
    // A reply to an earlier attempt still counts while the request is open; once it is
    // closed, any further reply is a duplicate and is dropped.
    Slot& s = slots_[*reply_.id % slots_.size()];
    if (!s.busy || s.id != *reply_.id) {
        report_.late_reply();
        return;
    }
    peers_.alive(from);
    // Compared first: a server keeps its name, and the copy would be made on every reply.
    if (const auto cut = reply_.server.substr(0, Report::kMaxKeyBytes); peers_[from].name != cut)
        peers_[from].name.assign(cut);
    bool overloaded = !reply_.ok && reply_.error_code == "overloaded";
    if (overloaded && (s.waiting || from != s.peer)) {
        // An earlier attempt's server had no room: the retry already under way decides.
    } else if (overloaded && s.attempt < settings_.retries && !interrupted_) {
        retry_schedule(s, time_.now(), Backoff::on); // another server may have room
    } else if (!reply_.ok) {
        outcome_error(s, reply_.server, reply_.error_code, reply_.service_us);
    } else if (settings_.verify && !reply_verify(s, reply_)) {
        outcome_error(s, reply_.server, "bad_result", reply_.service_us);
    } else {
        outcome_ok(s, reply_);
    }
}

Outcome Client::outcome_of(const Slot& s, std::string_view server, Clock::time_point now,
                           std::uint64_t service_us) const {
    Outcome o{server, latency_of(s.due, s.first_sent, now), service_us, s.warmup};
    o.items = workload_.op() == proto::Op::factor ? s.ns.size() : 1;
    return o;
}

void Client::outcome_ok(Slot& s, const proto::Reply& r) {
    Outcome o = outcome_of(s, r.server, time_.now(), r.service_us);
    if (workload_.op() == proto::Op::fetch) o.http_status = r.status;
    report_.outcome_ok(o);
    result_row(s, r.server, true, "", "", o.latency.corrected_us, r.service_us, &r);
    if (r.body && !settings_.save_dir.empty()) body_save(s, *r.body);
    slot_release(s);
}

// The message is the server's; bad_result is the client's own check.
void Client::outcome_error(Slot& s, std::string_view server, std::string_view code,
                           std::uint64_t service_us) {
    Outcome o = outcome_of(s, server, time_.now(), service_us);
    std::string_view message = code == "bad_result"
                                   ? std::string_view("the reply does not match the request")
                                   : reply_.error_message;
    report_.outcome_error(o, code, message);
    result_row(s, server, false, code, message, o.latency.corrected_us, service_us, &reply_);
    slot_release(s);
}

// Deadlines were queued in send order with one timeout, so the front is the earliest.
void Client::timeouts_expire(Clock::time_point now) {
    while (!deadlines_.empty()) {
        Deadline d = deadlines_.front();
        Slot& s = slots_[d.id % slots_.size()];
        bool live = deadline_live(d);
        if (live && d.at > now) break;
        deadlines_.pop_front();
        if (!live) continue;
        report_.attempt_timeout(peer_name(s.peer));
        // Leave a silent peer out of the rotation for a while; any reply brings it back.
        peers_.suspect(s.peer, now + 3 * settings_.heartbeat);
        if (s.attempt < settings_.retries && !interrupted_) {
            retry_schedule(s, now, Backoff::on);
            continue;
        }
        timeout_final(s, now, "");
    }
}

void Client::timeout_final(Slot& s, Clock::time_point now, std::string_view why) {
    char text[128];
    if (why.empty())
        std::snprintf(text, sizeof text, "no reply within %lld ms, %u attempt%s",
                      static_cast<long long>(settings_.timeout.count()), s.attempt + 1,
                      s.attempt ? "s" : "");
    else
        std::snprintf(text, sizeof text, "%.*s", static_cast<int>(why.size()), why.data());
    report_.outcome_timeout(peer_name(s.peer), s.warmup, text);
    result_row(s, peer_name(s.peer), false, "timeout", text, us_between(s.due, now), 0, nullptr);
    slot_release(s);
}

// Without a request count (closed loop --duration) only the request that could not be
// sent fails, and issuing stops.
void Client::unsent_fail(std::string_view why) {
    if (limit_ != SIZE_MAX && next_index_ >= limit_) return; // nothing left unsent
    if (limit_ == SIZE_MAX) limit_ = next_index_ + 1;
    std::string message = "not sent: " + std::string(why);
    LOG_ERROR("%s; %zu requests end as timeouts", message.c_str(), limit_ - next_index_);
    auto now = time_.now();
    Slot unsent; // never sent, so it has no slot; its id is the first its index would get
    for (; next_index_ < limit_; ++next_index_) {
        auto due = schedule_ ? schedule_->due(next_index_) : now;
        unsent.id = static_cast<std::uint64_t>(next_index_) * slots_.size();
        unsent.index = next_index_;
        unsent.warmup = due < warmup_end_;
        unsent.attempt = 0;
        if (workload_.op() == proto::Op::factor) workload_.numbers(next_index_, unsent.ns);
        report_.outcome_timeout("", unsent.warmup, message);
        result_row(unsent, "", false, "timeout", message, us_between(due, now), 0, nullptr);
        ++finished_;
    }
}

void Client::slot_release(Slot& s) {
    if (!s.waiting) peers_.attempt_over(s.peer);
    s.busy = false;
    s.waiting = false;
    ++finished_;
    if (free_slots_.empty()) window_freed_ = time_.now();
    free_slots_.push_back(static_cast<std::size_t>(&s - slots_.data()));
}

} // namespace zlb::client
