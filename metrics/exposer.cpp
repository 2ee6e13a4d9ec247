#include "metrics/exposer.hpp"

#include "core/endpoint.hpp"
#include "core/log.hpp"
#include "core/process.hpp"

#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace zlb::metrics {
namespace {

[[noreturn]] void bad(std::string_view text, const std::string& why) {
    throw std::invalid_argument("bad --metrics address '" + std::string(text) + "': " + why);
}

// When the process started, in seconds since the epoch: its start in clock ticks after
// boot (/proc/self/stat, field 22) plus the boot time (/proc/stat btime). Now, if unreadable.
double process_start_seconds() {
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::ifstream stat("/proc/self/stat"), sys("/proc/stat");
    std::string line, word;
    if (!std::getline(stat, line)) return now;
    auto paren = line.rfind(')'); // the command name may hold spaces and parentheses
    if (paren == std::string::npos) return now;
    std::istringstream fields(line.substr(paren + 2));
    unsigned long long ticks = 0;
    for (int field = 3; field <= 22 && fields >> word; ++field)
        if (field == 22) ticks = std::stoull(word);
    long long btime = -1;
    while (sys >> word)
        if (word == "btime" && sys >> btime) break;
    long hz = sysconf(_SC_CLK_TCK);
    if (ticks == 0 || btime < 0 || hz <= 0) return now;
    return static_cast<double>(btime) + static_cast<double>(ticks) / static_cast<double>(hz);
}

} // namespace

std::string listen_address(std::string_view text) {
    unsigned port = 0;
    if (port_parse(text, port)) return "127.0.0.1:" + std::string(text);
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos)
        bad(text, "port '" + std::string(text) + "' is not a number in 1..65535");
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        bad(text, "expected PORT or HOST:PORT (HOST an IP address or *)");
    std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
    if (!port_parse(port_text, port))
        bad(text, "port '" + std::string(port_text) + "' is not a number in 1..65535");
    try { // the same syntax check as every endpoint's
        endpoint_check("tcp://" + std::string(text), true);
    } catch (const std::invalid_argument&) {
        bad(text, "'" + std::string(host) + "' is not a host");
    }
    if (host == "*") return "0.0.0.0:" + std::string(port_text);
    unsigned char addr[16];
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        if (inet_pton(AF_INET6, std::string(host.substr(1, host.size() - 2)).c_str(), addr) == 1)
            return std::string(text);
    } else if (inet_pton(AF_INET, std::string(host).c_str(), addr) == 1) {
        return std::string(text);
    }
    bad(text, "'" + std::string(host) + "' is not an IP address (names are not resolved; use "
              "127.0.0.1, [::1], * or a local address)");
}

Exposer::Exposer(const std::string& listen, std::string_view program, std::shared_ptr<Catalog> catalog)
    : registry_(std::make_shared<prometheus::Registry>()), catalog_(std::move(catalog)) {
    prometheus::BuildGauge()
        .Name("process_start_time_seconds")
        .Help("Start time of the process since the Unix epoch, in seconds")
        .Register(*registry_)
        .Add({})
        .Set(process_start_seconds());
    prometheus::BuildGauge()
        .Name("zlb_build_info")
        .Help("Always 1; the labels say which zlb program and version this is")
        .Register(*registry_)
        .Add({{"program", std::string(program)}, {"version", version()}})
        .Set(1);
    try {
        // One civetweb worker: Prometheus scrapes one request at a time.
        exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot serve metrics on " + listen + " (--metrics): " + e.what());
    }
    exposer_->RegisterCollectable(registry_);
    exposer_->RegisterCollectable(catalog_);
    LOG_INFO("metrics on http://%s/metrics", listen.c_str());
}

Exposer::~Exposer() = default;

} // namespace zlb::metrics
