#include "server/fetcher.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <malloc.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace zlb::server {
namespace {

// The host of the URL curl is about to request (redirects included), as curl spells it:
// "example.com", "10.0.0.1", "[::1]".
std::string effective_host(CURL* h) {
    char* url = nullptr;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url);
    std::string host;
    if (CURLU* u = curl_url()) {
        char* part = nullptr;
        if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK) {
            host = part;
            curl_free(part);
        }
        curl_url_cleanup(u);
    }
    return host;
}

FetchOutcome outcome_of(FetchJob& job, CURLcode code) {
    FetchOutcome out;
    CURL* h = job.easy.get();
    if (code == CURLE_OK) {
        out.ok = true;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.result.status);
        char* type = nullptr;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
        if (type) out.result.content_type = type;
        curl_off_t total_us = 0;
        curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
        out.result.elapsed_us = static_cast<std::uint64_t>(total_us);
        out.result.bytes = job.bytes;
        if (job.want_body) out.result.body = job.body;
        return out;
    }
    out.message = job.error[0] ? job.error : curl_easy_strerror(code);
    if (job.refused) {
        out.message = "destination address refused by the fetch policy (see --deny-cidr, "
                      "--deny-private, --allow-host)";
    } else if (job.too_large || code == CURLE_FILESIZE_EXCEEDED) {
        out.code = proto::ErrorCode::too_large;
        out.message = "body exceeds max_bytes";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        out.code = job.deadline_bound ? proto::ErrorCode::deadline_exceeded
                                      : proto::ErrorCode::timeout;
    } else if (code == CURLE_UNSUPPORTED_PROTOCOL) {
        out.code = proto::ErrorCode::bad_request;
    }
    return out;
}

} // namespace

Fetcher::Fetcher(const FetcherSettings& settings, DoneFn on_done)
    : settings_(settings), on_done_(std::move(on_done)), jobs_(settings.max_inflight),
      shards_((jobs_.size() + kShardJobs - 1) / kShardJobs),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    // Every fd is below the soft RLIMIT_NOFILE: room for it is reserved now (at most 12 MB
    // of address space, for a limit of 2^20), so the table does not reallocate inside
    // curl's callbacks. Reserved, not filled: entries are made (and memory touched) only
    // up to the highest fd seen.
    if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0)
        fds_.reserve(std::min<rlim_t>(nofile.rlim_cur, rlim_t{1} << 20));
    for (std::size_t i = 0; i < shards_.size(); ++i) {
        FetchShard& shard = shards_[i];
        shard.multi = make_curl_multi();
        shard.index = static_cast<std::uint32_t>(i);
        shard.fetcher = this;
        CURLM* m = shard.multi.get();
        curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &Fetcher::on_socket);
        curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &shard);
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &Fetcher::on_timer);
        curl_multi_setopt(m, CURLMOPT_TIMERDATA, &shard);
        // Keep enough idle connections to reuse at the shard's full concurrency.
        std::size_t jobs = std::min(kShardJobs, jobs_.size() - i * kShardJobs);
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(jobs));
    }
    free_.reserve(jobs_.size());
    done_.reserve(jobs_.size());
    // Reversed, so that the first jobs taken are those of the first shard: at low
    // concurrency the fetches share one shard's connections.
    for (std::size_t i = jobs_.size(); i-- > 0;) {
        jobs_[i].shard = &shards_[i / kShardJobs];
        free_.push_back(&jobs_[i]);
    }
}

Fetcher::~Fetcher() {
    for (auto& job : jobs_)
        if (job.easy) curl_multi_remove_handle(job.shard->multi.get(), job.easy.get());
}

bool Fetcher::fetch_start(const proto::FetchParams& p, Origin origin,
                          std::span<zmq::message_t> routing,
                          std::optional<std::uint64_t> id, Clock::time_point received,
                          std::chrono::milliseconds timeout, bool deadline_bound) {
    if (free_.empty()) return false;
    FetchJob* job = free_.back();
    free_.pop_back();
    job->origin = origin;
    job->routing.clear();
    for (auto& frame : routing) job->routing.push_back(std::move(frame));
    job->id = id;
    job->received = received;
    if (!job->easy) easy_setup(*job);
    CURL* h = job->easy.get();
    job->body.clear();
    job->bytes = 0;
    job->too_large = false;
    job->refused = false;
    job->checked_host.clear();
    job->error[0] = '\0';
    job->want_body = p.want_body;
    job->max_bytes = p.max_bytes;
    job->deadline_bound = deadline_bound;
    // Only what differs between fetches; the rest stays as easy_setup left it (curl
    // keeps options across transfers, and redirects change only per-transfer state).
    std::string url(p.url);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOBODY, p.head ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(timeout, settings_.connect_timeout).count()));
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(p.max_bytes));
    if (CURLMcode rc = curl_multi_add_handle(job->shard->multi.get(), h); rc != CURLM_OK) {
        LOG_ERROR("curl_multi_add_handle: %s", curl_multi_strerror(rc));
        job_finish(*job, CURLE_FAILED_INIT);
    }
    return true;
}

// A job slot's easy handle, made on its first fetch and kept (with its options) for the
// slot's later fetches: what every fetch sets alike is set here once.
void Fetcher::easy_setup(FetchJob& job) {
    job.easy = make_curl_easy();
    CURL* h = job.easy.get();
    job.policy = &settings_.policy;
    job.via_proxy = !settings_.proxy.empty();
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Fetcher::on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &job);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, job.error);
    curl_easy_setopt(h, CURLOPT_PRIVATE, &job);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &Fetcher::on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &job);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &Fetcher::on_close_socket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, this);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "zlb/1");
    // "" means no proxy, so http_proxy, HTTPS_PROXY and ALL_PROXY in the environment
    // cannot route fetches around the policy. With --fetch-proxy, NOPROXY "" sends every
    // host through it, whatever no_proxy says, so every connection curl opens is to the
    // proxy, and the URL's host is checked apart.
    curl_easy_setopt(h, CURLOPT_PROXY, settings_.proxy.c_str());
    curl_easy_setopt(h, CURLOPT_NOPROXY, "");
    if (job.via_proxy) {
        curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, &Fetcher::on_prereq);
        curl_easy_setopt(h, CURLOPT_PREREQDATA, &job);
    }
}

bool is_http_url(std::string_view url) {
    auto starts = [&](std::string_view prefix) {
        return url.size() > prefix.size() &&
               std::equal(prefix.begin(), prefix.end(), url.begin(), [](char p, char u) {
                   return std::tolower(static_cast<unsigned char>(u)) == p;
               });
    };
    return starts("http://") || starts("https://");
}

size_t Fetcher::on_body(char* data, size_t size, size_t n, void* user) {
    auto* job = static_cast<FetchJob*>(user);
    std::size_t bytes = size * n;
    // MAXFILESIZE only checks a declared Content-Length; chunked bodies are capped here.
    if (job->bytes + bytes > job->max_bytes) {
        job->too_large = true;
        return CURL_WRITEFUNC_ERROR;
    }
    // Counted either way; kept only when asked for, so unwanted bodies cost no memory.
    job->bytes += bytes;
    if (job->want_body) job->body.append(data, bytes);
    return bytes;
}

// Every connection, redirects included, passes here with the address about to be dialled.
curl_socket_t Fetcher::on_open_socket(void* user, curlsocktype, curl_sockaddr* address) {
    auto* job = static_cast<FetchJob*>(user);
    // Via a proxy the address is the proxy's, which the operator chose: what is checked
    // is the host the proxy would be asked for, before the proxy hears of it (a CONNECT
    // is sent while connecting, before any later callback could stop it).
    bool ok = job->via_proxy ? proxy_target_allowed(*job)
                             : job->policy->allowed(&address->addr, effective_host(job->easy.get()));
    if (!ok) {
        job->refused = true;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t s = ::socket(address->family, address->socktype, address->protocol);
    if (s == CURL_SOCKET_BAD) return s;
    // A new socket under an fd number fds_ may remember from a socket closed elsewhere.
    FdState* st = job->shard->fetcher->fd_state(s);
    if (!st) {
        ::close(s);
        return CURL_SOCKET_BAD; // out of memory: the transfer fails, as for no socket
    }
    *st = FdState{.ours = true};
    return s;
}

// Via a proxy, before each request: a redirect can reuse the proxy connection, and then
// no socket is opened for it.
int Fetcher::on_prereq(void* user, char*, char*, int, int) {
    auto* job = static_cast<FetchJob*>(user);
    if (proxy_target_allowed(*job)) return CURL_PREREQFUNC_OK;
    job->refused = true;
    return CURL_PREREQFUNC_ABORT;
}

// The URL's host, resolved here with getaddrinfo, is allowed only if every address it
// has is. Why resolve rather than pin (CURLOPT_RESOLVE): a proxy resolves the name
// itself, so a pinned address would never be used; what can be done from here is to
// refuse names that resolve to refused addresses and literal addresses that are refused.
// A name whose DNS answer changes between this lookup and the proxy's can still reach
// a refused address: a proxy for untrusted URLs should enforce its own destination rules.
// The lookup blocks the socket thread once per new host (literal addresses cost
// nothing); that is the price of --fetch-proxy, which is off by default.
bool Fetcher::proxy_target_allowed(FetchJob& job) {
    std::string host = effective_host(job.easy.get());
    if (host.empty()) return false;
    if (host == job.checked_host) return true;
    if (job.policy->host_exempt(host)) {
        job.checked_host = host;
        return true;
    }
    std::string name = host;
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
        name = name.substr(1, name.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found); rc != 0) {
        LOG_DEBUG("fetch via proxy: cannot resolve %s for the policy check: %s", name.c_str(),
                  gai_strerror(rc));
        return false; // unresolvable here: refused rather than left to the proxy
    }
    bool ok = true;
    for (addrinfo* a = found; a && ok; a = a->ai_next) ok = job.policy->allowed(a->ai_addr, host);
    freeaddrinfo(found);
    if (ok) job.checked_host = host;
    return ok;
}

// curl says which events it wants on a socket, or that it is done with it. fds_ is the
// truth about the set (curl forgets a socket between transfers; the set may not, see
// the top of fetcher.hpp). Level-triggered, as curl expects from poll. Each event
// carries the shard whose multi handle owns the socket beside the fd.
int Fetcher::on_socket(CURL*, curl_socket_t s, int what, void* shard_p, void*) {
    auto& shard = *static_cast<FetchShard*>(shard_p);
    Fetcher& self = *shard.fetcher;
    const int ep = self.epoll_.get();
    FdState* found = self.fd_state(s);
    if (!found) {
        LOG_ERROR("out of memory tracking a curl socket");
        return -1; // curl fails the transfer on this socket
    }
    FdState& st = *found;
    if (what == CURL_POLL_REMOVE) {
        if (!st.in_set || st.parked) return 0;
        // Only a connection of ours is parked: its close is sure to reach on_close_socket.
        // curl's other sockets (the threaded resolver's socketpair) are closed by curl
        // itself, and a new one could get the fd number while the set had the old.
        if (st.ours && st.events == EPOLLIN) {
            st.parked = true;
            return 0;
        }
        // A socket curl has already closed has left the set by itself: no error.
        ::epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr);
        st.in_set = false;
        return 0;
    }
    const std::uint32_t events =
        ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    st.parked = false;
    if (st.in_set && st.events == events && st.shard == shard.index) return 0;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = (std::uint64_t{shard.index} << 32) | static_cast<std::uint32_t>(s);
    int op = st.in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = ::epoll_ctl(ep, op, s, &ev);
    // An fd number reused behind fds_' back (a socket curl closed itself): the set lost
    // the old one, or still has one fds_ did not know of.
    if (rc != 0 && errno == ENOENT && op == EPOLL_CTL_MOD) rc = ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    else if (rc != 0 && errno == EEXIST) rc = ::epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);
    if (rc != 0) {
        LOG_ERROR("epoll_ctl on a curl socket: %s", std::strerror(errno));
        st.in_set = false;
        return -1; // curl fails the transfer on this socket
    }
    st.in_set = true;
    st.events = events;
    st.shard = shard.index;
    return 0;
}

// Reserved for RLIMIT_NOFILE at start, so growing up to it allocates nothing; past it
// (the limit was raised) resize grows the storage geometrically, and when memory is short
// this is nullptr (an exception must not cross libcurl's C frames).
FdState* Fetcher::fd_state(curl_socket_t s) noexcept {
    const auto i = static_cast<std::size_t>(s);
    if (i >= fds_.size()) {
        try {
            fds_.resize(i + 1);
        } catch (const std::bad_alloc&) {
            return nullptr;
        }
    }
    return &fds_[i];
}

// curl closes every socket on_open_socket opened here; closing removes it from the set.
int Fetcher::on_close_socket(void* fetcher, curl_socket_t s) {
    if (FdState* st = static_cast<Fetcher*>(fetcher)->fd_state(s)) *st = FdState{};
    return ::close(s);
}

// curl counts its timeouts in real time, so its timer is kept on the steady clock, not
// on the engine's (a test's manual time must not starve curl).
int Fetcher::on_timer(CURLM*, long timeout_ms, void* shard) {
    auto& timer = static_cast<FetchShard*>(shard)->timer_at;
    if (timeout_ms < 0) timer.reset();
    else timer = Clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
}

void Fetcher::poll_items_add(std::vector<zmq::pollitem_t>& items) const {
    items.push_back({nullptr, epoll_.get(), ZMQ_POLLIN, 0});
}

long Fetcher::timer_ms() const {
    std::optional<Clock::time_point> first;
    for (const auto& shard : shards_)
        if (shard.timer_at && (!first || *shard.timer_at < *first)) first = shard.timer_at;
    if (!first) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*first - Clock::now());
    return std::max<long>(0, left.count());
}

void Fetcher::socket_action(FetchShard& shard, curl_socket_t s, int mask) {
    int running = 0;
    shard.acted = true;
    curl_multi_socket_action(shard.multi.get(), s, mask, &running);
}

// Ready sockets first, then the shards whose timers are due, then what ended on the shards
// curl ran on (only curl_multi_socket_action finishes transfers).
void Fetcher::poll_items_ready(const zmq::pollitem_t* items, std::size_t count) {
    if (count > 0 && (items[0].revents & ZMQ_POLLIN)) sockets_ready();
    const auto now = Clock::now();
    for (auto& shard : shards_) {
        if (shard.timer_at && now >= *shard.timer_at) {
            shard.timer_at.reset();
            socket_action(shard, CURL_SOCKET_TIMEOUT, 0);
        }
        if (shard.acted) {
            shard.acted = false;
            messages_read(shard);
        }
    }
}

// The sockets that are ready, a batch at a time, at most kMaxBatches batches a turn so
// that the engine's other sockets are looked at too (level-triggered: what is left is
// still ready next turn).
void Fetcher::sockets_ready() {
    constexpr int kBatch = 256;
    constexpr int kMaxBatches = 8;
    epoll_event events[kBatch];
    for (int b = 0; b < kMaxBatches; ++b) {
        int n = ::epoll_wait(epoll_.get(), events, kBatch, 0);
        for (int i = 0; i < n; ++i) {
            std::uint32_t r = events[i].events;
            int mask = ((r & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                       ((r & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                       ((r & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
            const std::uint64_t tag = events[i].data.u64;
            const auto s = static_cast<curl_socket_t>(tag & 0xffffffffu);
            if (FdState* st = fd_state(s); st && st->parked) {
                // An idle connection's peer closed it (or sent what nobody asked for):
                // out of the set, or level-triggering would report it every turn.
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s, nullptr);
                st->in_set = st->parked = false;
                continue;
            }
            socket_action(shards_[tag >> 32], s, mask);
        }
        if (n < kBatch) break;
    }
}

// Every finished transfer's message is taken off curl's queue before any handle is
// removed: curl_multi_remove_handle scans the messages still queued for the handle's own,
// so removing while hundreds that ended together wait would cost O(n^2) per burst.
void Fetcher::messages_read(FetchShard& shard) {
    CURLM* m = shard.multi.get();
    done_.clear();
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left))
        if (msg->msg == CURLMSG_DONE) done_.push_back({msg->easy_handle, msg->data.result});
    for (auto [easy, code] : done_) {
        void* job = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &job);
        curl_multi_remove_handle(m, easy);
        job_finish(*static_cast<FetchJob*>(job), code);
    }
}

void Fetcher::job_finish(FetchJob& job, CURLcode code) {
    on_done_(job, outcome_of(job, code));
    job.routing.clear();
    job.body.clear();
    if (std::size_t held = job.body.capacity(); held > kBodyKeepBytes) {
        std::string().swap(job.body);
        // glibc keeps freed memory for reuse (and raises its mmap threshold after a large
        // free), so without a trim one large body would stay resident. Only after bodies
        // of a MiB or more, so that the trim's cost stays small beside the transfer's.
        if (held >= (std::size_t{1} << 20)) ::malloc_trim(0);
    }
    free_.push_back(&job);
}

} // namespace zlb::server
