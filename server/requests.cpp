// How a request is served: decoded, checked, then answered inline (echo, small
// factors, status), handed to the factor pool, or started as a fetch.
#include "server/server.hpp"

#include "core/log.hpp"

namespace zlb::server {
namespace {

using namespace std::chrono;
using proto::ErrorCode;

// Numbers below this are factored on the socket thread: it takes about a microsecond,
// far less than handing the job to a worker and back.
constexpr u128 kInlineFactorBelow = u128(1) << 32;
constexpr std::size_t kInlineFactorMax = 16;

bool serves(Mode mode, proto::Op op) {
    if (op == proto::Op::echo || op == proto::Op::status) return true;
    if (op == proto::Op::factor) return mode != Mode::io;
    return mode != Mode::cpu;
}

bool all_small(const std::vector<u128>& ns) {
    if (ns.size() > kInlineFactorMax) return false;
    for (u128 n : ns)
        if (n >= kInlineFactorBelow) return false;
    return true;
}

} // namespace

// The intake checks framing and size and decodes; what it refuses is answered here.
void Server::request_handle(Clock::time_point received) {
    ++counters_.received;
    request_op_.reset();
    switch (intake_.take(frames_, framing_of(origin_))) {
    case RequestIntake::Verdict::dropped:
        return;
    case RequestIntake::Verdict::refused: {
        const auto& r = intake_.refusal();
        return reply_error(intake_.routing(), r.id, received, r.code, r.message);
    }
    case RequestIntake::Verdict::request:
        return request_dispatch(intake_.routing(), received);
    }
}

void Server::request_dispatch(std::span<zmq::message_t> routing, Clock::time_point received) {
    auto& r = intake_.request();
    request_op_ = r.op;
    if (!serves(settings_.mode, r.op)) {
        reply_error(routing, r.id, received, ErrorCode::unsupported_op,
                    "this server does not serve this op (see --mode)");
    } else if (draining_) {
        reply_error(routing, r.id, received, ErrorCode::overloaded, "server is shutting down");
    } else if (r.deadline_ms && *r.deadline_ms == 0) {
        reply_error(routing, r.id, received, ErrorCode::deadline_exceeded, "deadline_ms is 0");
    } else if (r.op == proto::Op::status) {
        reply_status(routing, received);
    } else if (r.op == proto::Op::echo) {
        // Written straight into the message that goes out: the hot path's one copy.
        const proto::ReplyHeader h{r.id, settings_.name, us_since(received)};
        echo_reply_.rebuild(proto::echo_reply_bytes(h, r.data, r.data_is_str));
        proto::echo_reply_write(echo_reply_.data<char>(), h, r.data, r.data_is_str);
        series_.request_done(proto::Op::echo, std::nullopt, h.service_us);
        reply_out(origin_, routing, echo_reply_);
    } else if (r.op == proto::Op::factor) {
        factor_start(routing, received);
    } else {
        fetch_start(routing, received);
    }
}

void Server::factor_start(std::span<zmq::message_t> routing, Clock::time_point received) {
    auto& r = intake_.request();
    std::optional<Clock::time_point> deadline;
    if (r.deadline_ms) deadline = received + milliseconds(*r.deadline_ms);
    if (all_small(r.ns)) {
        inline_job_.id = r.id;
        inline_job_.ns.swap(r.ns);
        inline_job_.batch = r.batch;
        inline_job_.received = received;
        inline_job_.deadline = deadline;
        factor_encode(inline_job_, settings_.name, time_, inline_scratch_);
        series_.request_done(proto::Op::factor, inline_scratch_.error, us_since(received));
        inline_job_.ns.swap(r.ns);
        reply_.clear();
        reply_.write(inline_scratch_.reply.data(), inline_scratch_.reply.size());
        reply_send(routing);
        return;
    }
    CpuJob* job = pool_->job_acquire();
    if (!job) {
        reply_error(routing, r.id, received, ErrorCode::overloaded, "factor queue is full");
        return;
    }
    job->routing.clear();
    for (auto& frame : routing) job->routing.push_back(std::move(frame));
    job->id = r.id;
    job->ns.swap(r.ns);
    job->batch = r.batch;
    job->received = received;
    job->deadline = deadline;
    job->work_limit = settings_.max_factor;
    job->origin = origin_;
    ++cpu_submitted_;
    inflight_note();
    pool_->job_submit(job);
}

void Server::fetch_start(std::span<zmq::message_t> routing, Clock::time_point received) {
    auto& r = intake_.request();
    if (!is_http_url(r.fetch.url)) {
        reply_error(routing, r.id, received, ErrorCode::bad_request,
                    "url must start with http:// or https://");
        return;
    }
    // A request asking for more than the server allows is capped, not refused.
    r.fetch.max_bytes = std::min<std::uint64_t>(r.fetch.max_bytes, settings_.max_fetch_bytes);
    milliseconds timeout(std::min<milliseconds::rep>(r.fetch.timeout_ms,
                                                     settings_.max_fetch_timeout.count()));
    bool deadline_bound = r.deadline_ms && milliseconds(*r.deadline_ms) < timeout;
    if (deadline_bound) timeout = milliseconds(*r.deadline_ms);
    if (!fetcher_->fetch_start(r.fetch, origin_, routing, r.id, received, timeout, deadline_bound))
        reply_error(routing, r.id, received, ErrorCode::overloaded, "too many fetches in flight");
    else inflight_note();
}

void Server::fetch_done(FetchJob& job, const FetchOutcome& o) {
    proto::ReplyHeader h{job.id, settings_.name, us_since(job.received)};
    if (o.ok) {
        proto::encode_fetch(reply_, h, o.result);
    } else {
        proto::encode_error(reply_, h, o.code, o.message);
        ++counters_.errors[static_cast<std::size_t>(o.code)];
    }
    series_.request_done(proto::Op::fetch, o.ok ? std::nullopt : std::optional(o.code), h.service_us);
    reply_out(job.origin, job.routing);
}

void Server::reply_error(std::span<zmq::message_t> routing, std::optional<std::uint64_t> id,
                         Clock::time_point received, ErrorCode code, std::string_view message) {
    ++counters_.errors[static_cast<std::size_t>(code)];
    series_.request_done(request_op_, code, us_since(received));
    LOG_DEBUG("request %s: %s: %s", id ? std::to_string(*id).c_str() : "nil",
              proto::to_string(code).data(), std::string(message).c_str());
    proto::encode_error(reply_, {id, settings_.name, us_since(received)}, code, message);
    reply_send(routing);
}

void Server::reply_send(std::span<zmq::message_t> routing) { reply_out(origin_, routing); }

// reply_ as a message. A reply far larger than usual gives its buffer back, so one big
// body is not kept.
void Server::reply_out(Origin origin, std::span<zmq::message_t> routing) {
    zmq::message_t body(reply_.data(), reply_.size());
    reply_out(origin, routing, body);
    if (reply_.size() > kReplyKeepBytes) reply_ = msgpack::sbuffer(kReplyBufferBytes);
}

// Sends body on the socket the request came in on. A ROUTER peer whose queue is full
// has the reply held in the bounded backlog; past its bounds (a peer that does not read)
// the reply is lost rather than held: said once, then counted.
void Server::reply_out(Origin origin, std::span<zmq::message_t> routing, zmq::message_t& body) {
    ++counters_.answered;
    zmq::socket_t* out = output(origin);
    if (out == &router_) (void)backlog_.send(router_, routing, body, turn_now_); // counts drops
    else if (out && !send_routed(*out, routing, body, framing_of(origin))) counters_.replies_dropped.note();
}

void Server::inflight_note() {
    std::uint64_t now = cpu_pending() + (fetcher_ ? fetcher_->inflight() : 0);
    counters_.inflight_max = std::max(counters_.inflight_max, now);
}

// The server's counters, for operators and for tests that check what a server saw.
void Server::reply_status(std::span<zmq::message_t> routing, Clock::time_point received) {
    series_.request_done(proto::Op::status, std::nullopt, us_since(received));
    reply_.clear();
    proto::Packer pk(reply_);
    proto::encode_reply_begin(pk, {intake_.request().id, settings_.name, us_since(received)}, true, 1);
    proto::pack_str(pk, "counters"); // not "status": that is a fetch reply's HTTP code
    pk.pack_map(6);
    proto::pack_str(pk, "received");
    pk.pack_uint64(counters_.received);
    proto::pack_str(pk, "answered");
    pk.pack_uint64(counters_.answered);
    proto::pack_str(pk, "factor_inflight");
    pk.pack_uint64(cpu_pending());
    proto::pack_str(pk, "fetch_inflight");
    pk.pack_uint64(fetcher_ ? fetcher_->inflight() : 0);
    proto::pack_str(pk, "inflight_max");
    pk.pack_uint64(counters_.inflight_max);
    proto::pack_str(pk, "replies_dropped");
    pk.pack_uint64(counters_.replies_dropped.count);
    reply_send(routing);
}

} // namespace zlb::server
