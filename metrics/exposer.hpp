#pragma once
// --metrics: Prometheus text exposition at http://HOST:PORT/metrics, served by
// prometheus-cpp's pull Exposer (civetweb, its own threads). The engines never wait for it:
// a scrape only reads the cells their catalog names.
#include "metrics/catalog.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Exposer;
class Registry;
} // namespace prometheus

namespace zlb::metrics {

// What --metrics takes: PORT (on loopback, 127.0.0.1), HOST:PORT or [IPv6]:PORT, HOST an IP
// address or * (every interface; civetweb does not resolve names). Returns the address
// civetweb listens on; throws std::invalid_argument naming the text when it is none of those
// (the port is checked like every endpoint's: 1..65535, decimal digits).
std::string listen_address(std::string_view text);

class Exposer {
public:
    // Starts serving catalog at /metrics, with process_start_time_seconds and
    // zlb_build_info{program, version}; logs the URL. Start it after the signal mask is set
    // (its threads inherit it). Throws std::runtime_error when it can't listen there.
    Exposer(const std::string& listen, std::string_view program, std::shared_ptr<Catalog> catalog);
    ~Exposer();
    Exposer(const Exposer&) = delete;
    Exposer& operator=(const Exposer&) = delete;

private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::shared_ptr<Catalog> catalog_;
    std::unique_ptr<prometheus::Exposer> exposer_; // last: its threads stop before the rest goes
};

} // namespace zlb::metrics
