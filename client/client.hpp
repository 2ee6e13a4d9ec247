#pragma once
// zlb-client: a ROUTER socket connected to every endpoint, each under its own routing
// alias, so the client chooses the server for every request (round-robin over those
// that can take it) and knows where each one went. A window bounds what is in flight;
// every request ends as exactly one of ok, error(code) or timeout.
#include "client/report.hpp"
#include "client/workload.hpp"
#include "proto/codec.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace zlb::client {

using Clock = std::chrono::steady_clock;

struct Settings {
    std::vector<std::string> endpoints;
    WorkloadSettings work;
    std::size_t window = 64;
    std::chrono::milliseconds timeout{30'000};
    std::chrono::milliseconds connect_wait{2'000}; // for every endpoint to connect at start
    std::string json_path;
    std::string results_path;
    std::string save_dir;
    bool verify = true;
    bool progress = false;
};

struct Peer {
    std::string endpoint;
    std::string alias; // routing id this client gave the connection
    std::string name;  // the server's name, once it has replied
    std::uint64_t sent = 0;
};

struct Slot {
    std::uint64_t id = 0;
    bool busy = false;
    std::size_t index = 0; // request number within the workload
    std::size_t peer = 0;
    Clock::time_point sent;
    std::vector<u128> ns; // factor numbers sent, to check the reply against
};

class Client {
public:
    explicit Client(Settings settings); // throws on bad endpoints or unwritable outputs
    ~Client();
    int run();
    const Report& report() const { return report_; }

private:
    void connect_wait();
    bool request_send(std::size_t index);
    bool peer_send(std::size_t peer, std::string_view body);
    void replies_read();
    void reply_handle(std::string_view body);
    void outcome_ok(Slot& s, const proto::Reply& r);
    void outcome_error(Slot& s, std::string_view server, std::string_view code,
                       std::uint64_t service_us);
    void timeouts_expire(Clock::time_point now);
    void unsent_fail(std::string_view why);
    void slot_release(Slot& s);
    void result_row(const Slot& s, std::string_view server, bool ok, std::string_view code,
                    std::uint64_t latency_us, std::uint64_t service_us);
    bool reply_verify(const Slot& s, const proto::Reply& r) const;
    void body_save(const Slot& s, std::string_view body);
    void progress_print(bool final);

    Settings settings_;
    Workload workload_;
    Report report_;
    zmq::context_t ctx_;
    zmq::socket_t socket_;
    zmq::socket_t monitor_; // handshake events, watched only while connect_wait runs
    std::vector<Peer> peers_;
    std::size_t next_peer_ = 0;
    std::vector<Slot> slots_;
    std::vector<std::size_t> free_slots_;
    std::deque<std::pair<Clock::time_point, std::uint64_t>> deadlines_; // in send order
    std::size_t next_index_ = 0;
    std::uint64_t finished_ = 0;
    Clock::time_point started_;
    Clock::time_point last_progress_;
    std::FILE* results_ = nullptr;

    // Reused for every message.
    msgpack::sbuffer request_{1024};
    std::vector<zmq::message_t> frames_;
    proto::ReplyDecoder decoder_;
    proto::Reply reply_;
    std::string decode_error_;
};

} // namespace zlb::client
