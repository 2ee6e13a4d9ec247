#include "server/cpu_pool.hpp"

#include "factor/factor.hpp"
#include "core/log.hpp"
#include "proto/codec.hpp"

#include <atomic>

namespace zlb::server {
namespace {

std::atomic<unsigned> g_pool_serial{0};

// Expires at a point in time of the server's clock; factorize asks it only every fraction of
// a millisecond of work.
class DeadlineBudget final : public Budget {
public:
    DeadlineBudget(const TimeSource& time, Clock::time_point at) : time_(time), at_(at) {}

private:
    bool expired() override { return time_.now() >= at_; }

    const TimeSource& time_;
    Clock::time_point at_;
};

} // namespace

void factor_encode(const CpuJob& job, const std::string& server, const TimeSource& time,
                   FactorScratch& s) {
    proto::ReplyHeader h{job.id, server, 0};
    s.error = std::nullopt;
    const Clock::time_point start = time.now();
    if (job.deadline && start > *job.deadline) {
        h.service_us = us_between(job.received, start);
        proto::encode_error(s.reply, h, proto::ErrorCode::deadline_exceeded,
                            "deadline passed while queued");
        s.error = proto::ErrorCode::deadline_exceeded;
        return;
    }
    // The client's deadline, or the server's cap on the work of one request if that comes
    // first: the cap counts from now, so time spent queued does not count against it.
    Clock::time_point stop = Clock::time_point::max();
    bool capped = false;
    if (job.deadline) stop = *job.deadline;
    if (job.work_limit > Clock::duration::zero() && job.work_limit < stop - start) {
        stop = start + job.work_limit;
        capped = true;
    }
    DeadlineBudget budget(time, stop);
    s.all.clear();
    s.sizes.clear();
    try {
        for (u128 n : job.ns) {
            factorize(n, s.one, budget);
            s.all.insert(s.all.end(), s.one.begin(), s.one.end());
            s.sizes.push_back(static_cast<std::uint32_t>(s.one.size()));
        }
    } catch (const Cancelled&) {
        h.service_us = us_between(job.received, time.now());
        std::string message = "deadline passed while factoring";
        if (capped) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(job.work_limit);
            message = "factoring took longer than this server allows one request "
                      "(--max-factor-ms " + std::to_string(ms.count()) + ")";
        }
        proto::encode_error(s.reply, h, proto::ErrorCode::deadline_exceeded, message);
        s.error = proto::ErrorCode::deadline_exceeded;
        return;
    } catch (const std::exception& e) {
        h.service_us = us_between(job.received, time.now());
        proto::encode_error(s.reply, h, proto::ErrorCode::internal, e.what());
        s.error = proto::ErrorCode::internal;
        return;
    }
    h.service_us = us_between(job.received, time.now());
    proto::encode_factors(s.reply, h, s.all, s.sizes, job.batch);
}

CpuPool::CpuPool(zmq::context_t& ctx, const TimeSource& time, unsigned threads,
                 std::size_t capacity, std::string server_name, metrics::ServerSeries* series)
    : server_name_(std::move(server_name)),
      endpoint_("inproc://zlb-cpu-results-" + std::to_string(g_pool_serial++)), ctx_(ctx), time_(time),
      results_(ctx, zmq::socket_type::pull), jobs_(capacity), queue_(capacity), series_(series) {
    results_.set(zmq::sockopt::rcvhwm, 0); // bounded by capacity already
    results_.bind(endpoint_);
    free_.reserve(capacity);
    for (auto& job : jobs_) free_.push_back(&job);
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_main(); });
}

CpuPool::~CpuPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_) t.join();
}

CpuJob* CpuPool::job_acquire() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return nullptr;
    CpuJob* job = free_.back();
    free_.pop_back();
    return job;
}

void CpuPool::job_submit(CpuJob* job) {
    {
        std::lock_guard lock(mutex_);
        queue_[(queue_head_ + queue_size_++) % queue_.size()] = job;
        queued_.store(queue_size_, std::memory_order_relaxed);
    }
    ready_.notify_one();
}

CpuJob* CpuPool::job_next() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return stopping_ || queue_size_ > 0; });
    if (queue_size_ == 0) return nullptr;
    CpuJob* job = queue_[queue_head_];
    queue_head_ = (queue_head_ + 1) % queue_.size();
    --queue_size_;
    queued_.store(queue_size_, std::memory_order_relaxed);
    return job;
}

void CpuPool::job_release(CpuJob* job) {
    job->routing.clear();
    std::lock_guard lock(mutex_);
    free_.push_back(job);
}

// Worker loop: take a job, factor every number, encode the reply, push it to the socket
// thread as [origin, routing..., ("",) reply], release the slot. Stops with the pool.
void CpuPool::worker_main() {
    zmq::socket_t push(ctx_, zmq::socket_type::push);
    push.set(zmq::sockopt::sndhwm, 0);
    push.connect(endpoint_);
    FactorScratch scratch;
    while (CpuJob* job = job_next()) {
        factor_encode(*job, server_name_, time_, scratch);
        if (series_) series_->request_done(proto::Op::factor, scratch.error, us_between(job->received, time_.now()));
        push.send(zmq::buffer(&job->origin, 1), zmq::send_flags::sndmore);
        for (auto& frame : job->routing) push.send(frame, zmq::send_flags::sndmore);
        if (framing_of(job->origin) == Framing::delimited)
            push.send(zmq::message_t(), zmq::send_flags::sndmore);
        push.send(zmq::message_t(scratch.reply.data(), scratch.reply.size()),
                  zmq::send_flags::none);
        job_release(job);
    }
    push.set(zmq::sockopt::linger, 0);
}

// Each result is [origin, routing..., ("",) reply], with the delimiter when origin's
// framing has one; the rest of a multipart message is already here once its first is.
// The first routing frame decides: a ROUTER (with ROUTER_MANDATORY) refuses it when the
// peer's queue is full or the peer is gone, and then the rest of the reply is read and
// dropped; the socket thread never blocks on a slow peer.
std::size_t CpuPool::results_forward(std::span<zmq::socket_t* const, kOriginCount> outputs,
                                     std::size_t max, DroppedReplies& dropped) {
    std::size_t moved = 0;
    zmq::message_t frame;
    while (moved < max && results_.recv(frame, zmq::recv_flags::dontwait)) {
        std::uint8_t origin = *static_cast<const std::uint8_t*>(frame.data());
        zmq::socket_t* out = origin < kOriginCount ? outputs[origin] : nullptr;
        bool first = true;
        for (bool more = frame.more(); more;) {
            (void)results_.recv(frame, zmq::recv_flags::none);
            more = frame.more(); // read before the send empties the frame
            if (!out) continue;
            auto flags = more ? zmq::send_flags::sndmore : zmq::send_flags::none;
            if (!first) {
                out->send(frame, flags);
                continue;
            }
            first = false;
            if (!frame_route(*out, frame, flags)) {
                out = nullptr;
                dropped.note();
            }
        }
        ++moved;
    }
    return moved;
}

} // namespace zlb::server
