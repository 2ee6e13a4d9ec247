#pragma once
// The series of a zlb-broker. The broker records requests and queue waits as they happen
// and publishes its state (queues, workers, credit) once per turn of its loop; the counters
// its status reply already keeps (re-dispatches, requests taken back, messages dropped) are
// exposed as they are, not counted twice.
//
//   zlb_broker_requests_total{op, outcome}     client requests answered: outcome "relayed" (a
//                                              worker's reply; its own outcome is in that
//                                              server's metrics), "ok" (status), or the code
//                                              of the broker's own error reply
//   zlb_broker_queue_depth{op}                 requests waiting for credit
//   zlb_broker_queue_wait_seconds{op}          receipt to first dispatch to a worker
//   zlb_broker_workers_up, zlb_broker_workers_quarantined
//   zlb_broker_worker_credit{worker}, zlb_broker_worker_credit_in_use{worker}
//                                              by worker name: kWorkerNamesMax names at most,
//                                              the rest summed under worker="_other"
//   zlb_broker_held_bytes                      bytes of requests held (queued or at workers)
//   zlb_broker_redispatches_total, zlb_broker_requests_taken_back_total,
//   zlb_broker_heartbeat_misses_total          workers removed for missing their heartbeats
//   zlb_broker_messages_dropped_total, zlb_broker_replies_dropped_total
#include "metrics/catalog.hpp"
#include "metrics/labels.hpp"

#include <array>
#include <mutex>
#include <string>

namespace zlb::metrics {

class BrokerSeries {
public:
    // Distinct worker names with series of their own; workers past it share "_other", so a
    // stream of new names (restarts under host:pid names, hostile READYs) cannot grow the
    // label set. A name's series goes when its last worker does.
    static constexpr std::size_t kWorkerNamesMax = 64;
    static constexpr std::size_t kOutcomes = proto::kErrorCodeCount + 2; // relayed, ok, codes

    struct Reused { // counters the broker keeps for its status reply and logs
        const Count& redispatched;
        const Count& taken_back;
        const Count& dropped;
    };
    void catalog_fill(Catalog& catalog, const Reused& reused);

    void request_relayed(proto::Op op) { ++requests[op_index(op)][0]; }
    void request_answered(std::optional<proto::Op> op, std::optional<proto::ErrorCode> error) {
        ++requests[op_index(op)][error ? 2 + static_cast<std::size_t>(*error) : 1];
    }

    // A worker's credit slot, by name; at join and removal only (they take a lock the scrape
    // also takes), never per request.
    std::uint32_t worker_slot(const std::string& name);
    void worker_slot_release(std::uint32_t slot);
    // Once per turn, on the broker's thread: tally_add every worker, then tally_publish.
    void tally_add(std::uint32_t slot, std::uint64_t credit, std::uint64_t in_use) {
        credit_sum_[slot] += credit;
        in_use_sum_[slot] += in_use;
    }
    void tally_publish();

    std::array<std::array<Count, kOutcomes>, kOpLabels> requests;
    std::array<DurationHistogram, proto::kOpCount> queue_wait;
    std::array<Level, proto::kOpCount> queue_depth;
    Level workers_up, workers_quarantined, held_bytes;
    Count heartbeat_misses, replies_dropped;

private:
    static constexpr std::size_t kOther = kWorkerNamesMax; // the shared slot
    void workers_collect(std::vector<prometheus::MetricFamily>& out) const;

    // Written by the broker's thread; names_ and users_ under mutex_, read by the scrape.
    mutable std::mutex mutex_;
    std::array<std::string, kWorkerNamesMax + 1> names_;
    std::array<std::uint32_t, kWorkerNamesMax + 1> users_{};
    std::array<Level, kWorkerNamesMax + 1> credit_, in_use_;
    // The broker thread's own: sums of this turn, and one past the highest slot in use.
    std::array<std::uint64_t, kWorkerNamesMax + 1> credit_sum_{}, in_use_sum_{};
    std::size_t slots_end_ = 0;
};

} // namespace zlb::metrics
