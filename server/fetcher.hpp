#pragma once
// HTTP fetches on libcurl multi handles, driven from the socket thread's poll loop
// (curl_multi_socket_action): no thread per request, connections reused across jobs.
// curl's sockets live in one epoll set (libcurl's ephiperfifo pattern) whose single fd
// sits in the engine's poll set, so a turn of the loop costs the same whatever the
// number of fetches in flight: only ready sockets are visited.
//
// A kept-alive connection stays in the epoll set between transfers ("parked"): curl
// drops its socket when a transfer ends and asks for the same EPOLLIN when the next one
// starts, which would otherwise cost an EPOLL_CTL_DEL and an EPOLL_CTL_ADD per fetch (2 of
// the 7 system calls a kept-alive fetch makes). A parked socket that becomes readable
// (the peer closed it) leaves the set on the spot; curl finds the connection dead when it
// next looks, and closes it through on_close_socket, which forgets the fd.
//
// The job slots are split into shards of at most kShardJobs, each with its own multi
// handle and so its own connection cache. libcurl 7.88 walks a host's whole list of
// cached connections on every new transfer (ConnectionExists, for an idle one) and on
// every curl_multi_remove_handle after a kept-alive transfer (close_connect_only, for the
// connection it used): with 10,000 connections to one host that is O(n) cold reads per
// fetch. A shard bounds those walks to kShardJobs whatever max_inflight is.
#include "core/clock.hpp"
#include "core/unique_fd.hpp"
#include "server/curl_util.hpp"
#include "server/fetch_policy.hpp"
#include "server/origin.hpp"
#include "proto/codec.hpp"

#include <zmq.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace zlb::server {

struct FetchShard;
class Fetcher;

struct FetchJob {
    Origin origin = Origin::router; // which socket the request came in on
    std::vector<zmq::message_t> routing;
    std::optional<std::uint64_t> id;
    Clock::time_point received; // engine time
    bool deadline_bound = false; // the request's deadline, not timeout_ms, limits it
    bool want_body = false;
    std::uint64_t max_bytes = 0;
    bool too_large = false;
    bool refused = false; // the fetch policy refused an address it would have dialled
    const FetchPolicy* policy = nullptr;
    FetchShard* shard = nullptr; // whose multi handle runs this job (fixed per slot)
    bool via_proxy = false;   // --fetch-proxy: curl dials only the proxy
    std::string checked_host; // via a proxy: the last URL host resolved and allowed
    std::uint64_t bytes = 0;
    std::string body; // kept only when want_body
    CurlEasy easy;
    CurlSlist headers;
    char error[CURL_ERROR_SIZE] = {};
};

struct FetchOutcome {
    bool ok = false;
    proto::FetchResult result;
    proto::ErrorCode code = proto::ErrorCode::fetch_failed;
    std::string message;
};

struct FetcherSettings {
    std::size_t max_inflight = 1000;
    std::chrono::milliseconds connect_timeout{10'000};
    FetchPolicy policy;
    // --fetch-proxy: the only proxy used. Empty: none, whatever http_proxy, HTTPS_PROXY,
    // ALL_PROXY or no_proxy say in the environment.
    std::string proxy;
};

// Job slots per multi handle (see the top of this file): small enough that curl's walks
// over a shard's connections stay cheap, large enough that the shards looked at each turn
// (their timers and done messages: 157 at 10,000 slots) cost little beside the fetches.
// Under callgrind (warm rounds, all in flight) 64 gave 85k instructions and 0.7k D1 read
// misses per fetch at 1,000 and 88k / 0.66k at 10,000; 256 gave 92k / 1.5k and 93k / 1.6k.
inline constexpr std::size_t kShardJobs = 64;

// What the epoll set holds for one fd.
struct FdState {
    std::uint32_t events = 0; // as registered
    std::uint32_t shard = 0;  // as registered (the event's tag)
    bool in_set = false;
    bool ours = false;   // opened by on_open_socket, so its close reaches on_close_socket
    bool parked = false; // in the set, but curl has no transfer on it
};

// One multi handle and its timer.
struct FetchShard {
    CurlMulti multi;
    std::optional<Clock::time_point> timer_at; // curl's own timer: real steady time
    std::uint32_t index = 0; // in Fetcher::shards_, carried in every epoll event
    bool acted = false; // curl ran on it this turn: it may have finished transfers to report
    Fetcher* fetcher = nullptr;
};

// A body buffer above this capacity is released when its fetch ends, so one large body
// does not stay resident in a job slot.
inline constexpr std::size_t kBodyKeepBytes = 256 * 1024;

class Fetcher {
public:
    using DoneFn = std::function<void(FetchJob&, const FetchOutcome&)>;
    Fetcher(const FetcherSettings& settings, DoneFn on_done);
    ~Fetcher();
    Fetcher(const Fetcher&) = delete;
    Fetcher& operator=(const Fetcher&) = delete;

    // Starts a fetch of an http(s) URL; on_done runs when it ends, with the routing
    // frames moved in here. Returns false, leaving routing untouched, at capacity.
    bool fetch_start(const proto::FetchParams& p, Origin origin, std::span<zmq::message_t> routing,
                     std::optional<std::uint64_t> id, Clock::time_point received,
                     std::chrono::milliseconds timeout, bool deadline_bound);
    std::size_t inflight() const { return jobs_.size() - free_.size(); }

    // Poll-loop integration: append the one epoll fd that holds curl's sockets, then hand
    // back the results (the item appended, count 1).
    void poll_items_add(std::vector<zmq::pollitem_t>& items) const;
    void poll_items_ready(const zmq::pollitem_t* items, std::size_t count);
    std::size_t shards() const { return shards_.size(); }
    // Milliseconds until curl wants a timeout call, or -1 for none.
    long timer_ms() const;

private:
    static int on_socket(CURL*, curl_socket_t s, int what, void* shard, void*);
    static int on_timer(CURLM*, long timeout_ms, void* shard);
    static size_t on_body(char* data, size_t size, size_t n, void* job);
    static curl_socket_t on_open_socket(void* job, curlsocktype, curl_sockaddr* address);
    static int on_close_socket(void* fetcher, curl_socket_t s);
    static int on_prereq(void* job, char*, char*, int, int);
    static bool proxy_target_allowed(FetchJob& job);
    void easy_setup(FetchJob& job);
    static void socket_action(FetchShard& shard, curl_socket_t s, int mask);
    void sockets_ready();
    FdState* fd_state(curl_socket_t s) noexcept;
    void messages_read(FetchShard& shard);
    void job_finish(FetchJob& job, CURLcode code);

    FetcherSettings settings_;
    DoneFn on_done_;
    // By fd number (reserved for RLIMIT_NOFILE, 12 bytes an entry), for every socket curl
    // has handed to on_socket or on_open_socket has opened. Declared before shards_,
    // so that it outlives the multi handles, which close their cached connections (through
    // on_close_socket) when they are cleaned up.
    std::vector<FdState> fds_;
    std::vector<FetchJob> jobs_;
    std::vector<FetchShard> shards_; // job i runs on shards_[i / kShardJobs]
    std::vector<FetchJob*> free_;
    // Transfers curl reported done this turn (at most one per job: reserved, never grows).
    std::vector<std::pair<CURL*, CURLcode>> done_;
    UniqueFd epoll_; // curl's sockets, with the events curl wants on each
};

// True for http:// and https:// URLs, the only schemes zlb fetches.
bool is_http_url(std::string_view url);

} // namespace zlb::server
