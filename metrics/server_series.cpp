#include "metrics/server_series.hpp"

namespace zlb::metrics {

void ServerSeries::catalog_fill(Catalog& c) const {
    c.counter("zlb_server_requests_total", "Requests answered, by op and outcome code");
    for (std::size_t op = 0; op < kOpLabels; ++op) {
        c.sample(requests[op][0], {{"op", op_label(op)}, {"code", "ok"}});
        for (std::size_t code = 0; code < proto::kErrorCodeCount; ++code)
            c.sample(requests[op][1 + code],
                     {{"op", op_label(op)}, {"code", code_label(static_cast<proto::ErrorCode>(code))}});
    }
    c.histogram("zlb_server_request_duration_seconds",
                "Service time of answered requests, from receipt to the reply encoded, by op");
    for (std::size_t op = 0; op < kOpLabels; ++op) c.sample(service[op], {{"op", op_label(op)}});
    c.gauge("zlb_server_factor_jobs",
            "Factor jobs queued for a worker, and running (being factored or about to be sent)")
        .sample(factor_queued, {{"state", "queued"}})
        .sample(factor_running, {{"state", "running"}});
    c.gauge("zlb_server_fetches_in_flight", "HTTP fetches started and not yet answered")
        .sample(fetches_inflight);
    c.counter("zlb_server_replies_dropped_total",
              "Replies dropped because the peer's queue was full (it does not read) or it was gone")
        .sample(replies_dropped);
    c.gauge("zlb_server_connected_peers", "Open connections accepted on the --bind endpoints")
        .sample(peers);
    c.counter("zlb_server_zap_refusals_total", "CURVE handshakes refused by ZAP (key not allowed)")
        .sample(zap_refusals);
}

} // namespace zlb::metrics
