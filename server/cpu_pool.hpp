#pragma once
// A fixed pool of factor workers behind a bounded queue. The socket thread hands in
// jobs; workers encode the whole reply themselves and push it back over an inproc
// socket, so the socket thread never waits on a worker.
#include "core/clock.hpp"
#include "core/zmq_util.hpp"
#include "factor/u128.hpp"
#include "metrics/server_series.hpp"
#include "proto/codec.hpp"
#include "server/origin.hpp"

#include <msgpack.hpp>

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace zlb::server {

struct CpuJob {
    Origin origin = Origin::router;      // which socket the request came in on
    std::vector<zmq::message_t> routing; // frames before the delimiter
    std::optional<std::uint64_t> id;
    std::vector<u128> ns;
    bool batch = false;
    Clock::time_point received;
    std::optional<Clock::time_point> deadline;
    // The most time a worker spends on the job once it starts (--max-factor-ms); zero: no cap.
    Clock::duration work_limit = Clock::duration::zero();
};

// Per-thread scratch space, reused for every job so factoring allocates nothing new.
struct FactorScratch {
    std::vector<u128> one;
    std::vector<u128> all;
    std::vector<std::uint32_t> sizes;
    msgpack::sbuffer reply{4096};
    std::optional<proto::ErrorCode> error; // of the reply encoded last; nullopt: ok
};

// Factors the job's numbers and encodes the whole reply into s.reply: the factors,
// deadline_exceeded when the deadline passed while the job waited or while it was being
// factored, or when the work took longer than job.work_limit; internal on failure. The
// factorization reads the clock only every fraction of a millisecond of work (zlb::Budget).
void factor_encode(const CpuJob& job, const std::string& server, const TimeSource& time,
                   FactorScratch& s);

class CpuPool {
public:
    CpuPool(zmq::context_t& ctx, const TimeSource& time, unsigned threads, std::size_t capacity,
            std::string server_name, metrics::ServerSeries* series = nullptr);
    ~CpuPool();
    CpuPool(const CpuPool&) = delete;
    CpuPool& operator=(const CpuPool&) = delete;

    // A free job slot, or nullptr when every slot is taken (the caller answers overloaded).
    CpuJob* job_acquire();
    void job_submit(CpuJob* job);

    // The socket the finished replies arrive on; poll it for ZMQ_POLLIN.
    zmq::socket_t& results() { return results_; }
    // Moves up to max finished replies onto the socket each came in on (outputs is
    // indexed by Origin; a null entry drops the reply). Returns how many were read;
    // notes those a peer could not take (queue full, or gone) in dropped.
    // Jobs waiting for a worker now (read from any thread).
    std::size_t queued() const { return queued_.load(std::memory_order_relaxed); }
    std::size_t results_forward(std::span<zmq::socket_t* const, kOriginCount> outputs,
                                std::size_t max, DroppedReplies& dropped);

private:
    void worker_main();
    CpuJob* job_next();
    void job_release(CpuJob* job);

    std::string server_name_;
    std::string endpoint_;
    zmq::context_t& ctx_;
    const TimeSource& time_;
    zmq::socket_t results_;
    std::vector<CpuJob> jobs_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<CpuJob*> free_;
    std::vector<CpuJob*> queue_; // a ring of capacity slots: no allocation per job
    std::size_t queue_head_ = 0;
    std::size_t queue_size_ = 0;
    bool stopping_ = false;
    std::atomic<std::size_t> queued_{0}; // queue_size_, for queued()
    metrics::ServerSeries* series_;       // factor requests answered are recorded here
    std::vector<std::thread> workers_;
};

} // namespace zlb::server
