#include "metrics/broker_series.hpp"

namespace zlb::metrics {

void BrokerSeries::catalog_fill(Catalog& c, const Reused& reused) {
    c.counter("zlb_broker_requests_total",
              "Client requests answered, by op and outcome: relayed (a worker's reply), ok "
              "(status) or the broker's error code");
    for (std::size_t op = 0; op < kOpLabels; ++op) {
        c.sample(requests[op][0], {{"op", op_label(op)}, {"outcome", "relayed"}});
        c.sample(requests[op][1], {{"op", op_label(op)}, {"outcome", "ok"}});
        for (std::size_t code = 0; code < proto::kErrorCodeCount; ++code)
            c.sample(requests[op][2 + code], {{"op", op_label(op)},
                                              {"outcome", code_label(static_cast<proto::ErrorCode>(code))}});
    }
    c.gauge("zlb_broker_queue_depth", "Requests waiting for worker credit, by op");
    for (std::size_t op = 0; op < proto::kOpCount; ++op) c.sample(queue_depth[op], {{"op", op_label(op)}});
    c.histogram("zlb_broker_queue_wait_seconds",
                "Time from a request's receipt to its first dispatch to a worker, by op");
    for (std::size_t op = 0; op < proto::kOpCount; ++op) c.sample(queue_wait[op], {{"op", op_label(op)}});
    c.gauge("zlb_broker_workers_up", "Workers registered (leaving ones included)").sample(workers_up);
    c.gauge("zlb_broker_workers_quarantined", "Workers quarantined for holding a request too long")
        .sample(workers_quarantined);
    c.gauge("zlb_broker_held_bytes", "Bytes of requests held, queued or at workers").sample(held_bytes);
    c.counter("zlb_broker_redispatches_total",
              "Requests sent again to another worker after one failed them").sample(reused.redispatched);
    c.counter("zlb_broker_requests_taken_back_total",
              "Requests taken back from workers that held them past --worker-timeout-ms or the deadline")
        .sample(reused.taken_back);
    c.counter("zlb_broker_heartbeat_misses_total", "Workers removed for missing their heartbeats")
        .sample(heartbeat_misses);
    c.counter("zlb_broker_messages_dropped_total",
              "Malformed or stale messages from clients and workers, dropped").sample(reused.dropped);
    c.counter("zlb_broker_replies_dropped_total",
              "Replies dropped because the client's queue was full or it was gone")
        .sample(replies_dropped);
    c.hook_add([this](std::vector<prometheus::MetricFamily>& out) { workers_collect(out); });
}

std::uint32_t BrokerSeries::worker_slot(const std::string& name) {
    std::lock_guard lock(mutex_);
    std::size_t free = kOther;
    for (std::size_t i = 0; i < kWorkerNamesMax; ++i) {
        if (users_[i] && names_[i] == name) {
            ++users_[i];
            return static_cast<std::uint32_t>(i);
        }
        if (!users_[i] && free == kOther) free = i;
    }
    if (free != kOther) names_[free] = name;
    ++users_[free];
    slots_end_ = std::max(slots_end_, free + 1);
    return static_cast<std::uint32_t>(free);
}

void BrokerSeries::worker_slot_release(std::uint32_t slot) {
    std::lock_guard lock(mutex_);
    if (users_[slot] && --users_[slot] == 0) {
        credit_[slot].set(0);
        in_use_[slot].set(0);
    }
    while (slots_end_ > 0 && users_[slots_end_ - 1] == 0) --slots_end_;
}

void BrokerSeries::tally_publish() {
    for (std::size_t i = 0; i < slots_end_; ++i) {
        credit_[i].set(static_cast<std::int64_t>(credit_sum_[i]));
        in_use_[i].set(static_cast<std::int64_t>(in_use_sum_[i]));
        credit_sum_[i] = in_use_sum_[i] = 0;
    }
}

void BrokerSeries::workers_collect(std::vector<prometheus::MetricFamily>& out) const {
    prometheus::MetricFamily credit{"zlb_broker_worker_credit",
                                    "Credit a worker registered with (capped by --max-credit), by name",
                                    prometheus::MetricType::Gauge, {}};
    prometheus::MetricFamily in_use{"zlb_broker_worker_credit_in_use",
                                    "Requests a worker holds now, by name", prometheus::MetricType::Gauge, {}};
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i <= kOther; ++i) {
        if (!users_[i]) continue;
        Labels labels{{"worker", i == kOther ? std::string("_other") : names_[i]}};
        credit.metric.push_back(metric_make(labels));
        credit.metric.back().gauge.value = static_cast<double>(credit_[i].value());
        in_use.metric.push_back(metric_make(labels));
        in_use.metric.back().gauge.value = static_cast<double>(in_use_[i].value());
    }
    out.push_back(std::move(credit));
    out.push_back(std::move(in_use));
}

} // namespace zlb::metrics
