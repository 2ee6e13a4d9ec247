#pragma once
// The series of a zlb-server. The server records into them on its socket thread (factor
// workers record the requests they answer); the gauges are snapshots it publishes once per
// turn of its loop; the socket monitor keeps the peer count and the ZAP refusals.
//
//   zlb_server_requests_total{op, code}        requests answered, by op and outcome code (ok or
//                                              an error code); op "unknown": refused unread
//   zlb_server_request_duration_seconds{op}    service time: received to reply encoded
//   zlb_server_factor_jobs{state}              queued (waiting for a worker) / running (being
//                                              factored or waiting to be sent)
//   zlb_server_fetches_in_flight
//   zlb_server_replies_dropped_total           replies a peer could not take (queue full, gone)
//   zlb_server_connected_peers                 connections accepted on --bind endpoints, open
//   zlb_server_zap_refusals_total              CURVE handshakes ZAP refused
#include "metrics/catalog.hpp"
#include "metrics/labels.hpp"

#include <array>

namespace zlb::metrics {

struct ServerSeries {
    static constexpr std::size_t kOutcomes = proto::kErrorCodeCount + 1; // ok, then each code

    // The hot path: one request answered; error is nullopt when it succeeded.
    void request_done(std::optional<proto::Op> op, std::optional<proto::ErrorCode> error,
                      std::uint64_t service_us) {
        const std::size_t o = op_index(op);
        ++requests[o][error ? 1 + static_cast<std::size_t>(*error) : 0];
        service[o].observe_us(service_us);
    }
    // Adds every family above to catalog (at startup, once).
    void catalog_fill(Catalog& catalog) const;

    std::array<std::array<Count, kOutcomes>, kOpLabels> requests;
    std::array<DurationHistogram, kOpLabels> service;
    Level factor_queued, factor_running, fetches_inflight;
    Count replies_dropped;
    Level peers;
    Count zap_refusals;
};

} // namespace zlb::metrics
