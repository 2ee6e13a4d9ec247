// zlb-bare-fetch: the floor of scenario 3's scale part, what this machine and the nginx target
// can do with N fetches in flight and no zlb, no curl and no ZeroMQ in the way. One thread, one
// epoll set, N non-blocking keep-alive HTTP/1.1 connections to 127.0.0.1:PORT. A warm-up round
// (GET /delay/0/w on every connection) opens the connections, as a zlb io server's connections
// are open after its first round; then one timed round sends GET PATH/<i> on connection i, all N
// at once, and waits for every response. A response ends at Content-Length bytes of body or at
// the chunked terminator (what the loopback nginx target sends); it is not otherwise checked.
//
//   zlb-bare-fetch --port PORT --count N [--path /delay/1]
//
// Output, one key=value per line: fetches ok elapsed_s user_us_per_fetch sys_us_per_fetch
// (the timed round only; CPU from getrusage).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s --port PORT --count N [--path /delay/1]\n", argv0);
    std::exit(2);
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "zlb-bare-fetch: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

struct Conn {
    int fd = -1;
    std::string request;
    std::string in; // the response so far
    bool done = false;
};

// Whether in holds a whole response: headers, then Content-Length bytes or the last chunk.
bool response_complete(const std::string& in) {
    auto head_end = in.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    std::string_view head(in.data(), head_end);
    if (auto at = head.find("Content-Length:"); at != std::string_view::npos)
        return in.size() - (head_end + 4) >= std::strtoull(head.data() + at + 15, nullptr, 10);
    return in.size() >= 5 && in.compare(in.size() - 5, 5, "0\r\n\r\n") == 0;
}

void want(int ep, int op, std::size_t i, int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    if (::epoll_ctl(ep, op, fd, &ev) != 0) fail("epoll_ctl");
}

// One round: every connection sends its request and reads one response. Returns how many
// responses came back before the 30 s limit.
std::size_t round_run(int ep, std::vector<Conn>& conns) {
    for (std::size_t i = 0; i < conns.size(); ++i) {
        conns[i].in.clear();
        conns[i].done = false;
        want(ep, EPOLL_CTL_MOD, i, conns[i].fd, EPOLLOUT);
    }
    std::size_t left = conns.size();
    std::vector<epoll_event> events(256);
    char buf[4096];
    while (left > 0) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 30'000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (int k = 0; k < n; ++k) {
            std::size_t i = events[k].data.u64;
            Conn& c = conns[i];
            if (events[k].events & EPOLLOUT) {
                // A request of ~50 bytes on an idle connection goes out whole.
                if (::send(c.fd, c.request.data(), c.request.size(), MSG_NOSIGNAL) !=
                    static_cast<ssize_t>(c.request.size()))
                    fail("send");
                want(ep, EPOLL_CTL_MOD, i, c.fd, EPOLLIN);
                continue;
            }
            ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
            if (got <= 0) fail("recv (connection closed)");
            c.in.append(buf, static_cast<std::size_t>(got));
            if (!c.done && response_complete(c.in)) {
                c.done = true;
                --left;
                want(ep, EPOLL_CTL_MOD, i, c.fd, 0);
            }
        }
    }
    return conns.size() - left;
}

std::string request_for(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: zlb-bare-fetch\r\n\r\n";
}

double us(const timeval& a, const timeval& b) {
    return static_cast<double>(b.tv_sec - a.tv_sec) * 1e6 + static_cast<double>(b.tv_usec - a.tv_usec);
}

} // namespace

int main(int argc, char** argv) {
    int port = 0;
    std::size_t count = 0;
    std::string path = "/delay/1";
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        if (a == "--port") port = std::atoi(argv[++i]);
        else if (a == "--count") count = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--path") path = argv[++i];
        else usage(argv[0]);
    }
    if (port <= 0 || port > 65535 || count == 0) usage(argv[0]);
    rlimit nofile{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);

    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) fail("epoll_create1");
    std::vector<Conn> conns(count);
    for (std::size_t i = 0; i < count; ++i) {
        Conn& c = conns[i];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) fail("socket (raise ulimit -n?)");
        int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // as curl does
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
            fail("connect");
        want(ep, EPOLL_CTL_ADD, i, c.fd, 0);
        c.request = request_for("/delay/0/w");
    }
    if (round_run(ep, conns) != count) {
        std::fprintf(stderr, "zlb-bare-fetch: the warm-up round did not complete\n");
        return 1;
    }
    for (std::size_t i = 0; i < count; ++i)
        conns[i].request = request_for(path + "/" + std::to_string(i));
    rusage r0{}, r1{};
    ::getrusage(RUSAGE_SELF, &r0);
    auto t0 = std::chrono::steady_clock::now();
    std::size_t ok = round_run(ep, conns);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::getrusage(RUSAGE_SELF, &r1);
    std::printf("fetches=%zu\nok=%zu\nelapsed_s=%.6f\nuser_us_per_fetch=%.2f\nsys_us_per_fetch=%.2f\n",
                count, ok, elapsed, us(r0.ru_utime, r1.ru_utime) / static_cast<double>(count),
                us(r0.ru_stime, r1.ru_stime) / static_cast<double>(count));
    for (auto& c : conns) ::close(c.fd);
    ::close(ep);
    return ok == count ? 0 : 1;
}
