// ReplyBacklog: replies a ROUTER peer's full queue refused wait and go out once it reads;
// past the bounds, and for a peer that is gone, they are dropped and counted.
#include "core/zmq_util.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace zlb;
using namespace std::chrono;

namespace {

struct Pair {
    zmq::context_t ctx;
    zmq::socket_t router{ctx, zmq::socket_type::router};
    zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
    zmq::message_t peer;
    explicit Pair(int hwm) {
        router.set(zmq::sockopt::sndhwm, hwm);
        router.set(zmq::sockopt::router_mandatory, 1);
        dealer.set(zmq::sockopt::rcvhwm, hwm);
        router.bind("inproc://backlog");
        dealer.connect("inproc://backlog");
        dealer.send(zmq::str_buffer("hi"), zmq::send_flags::none);
        (void)router.recv(peer);
        zmq::message_t rest;
        (void)router.recv(rest);
    }
    zmq::message_t route() { return zmq::message_t(peer.data(), peer.size()); }
    std::size_t drain() {
        std::size_t n = 0;
        zmq::message_t m;
        while (dealer.recv(m, zmq::recv_flags::dontwait))
            if (!m.more()) ++n;
        return n;
    }
};

} // namespace

TEST_CASE("held replies go out once the peer reads, none lost") {
    Pair p(4);
    DroppedReplies dropped;
    ReplyBacklog backlog(1 << 20, dropped);
    auto now = steady_clock::now();
    constexpr std::size_t kSent = 200; // far past the queue of 4 (inproc: twice the HWM)
    for (std::size_t i = 0; i < kSent; ++i) {
        zmq::message_t r = p.route(), body(std::string("body"));
        CHECK(backlog.send(p.router, {&r, 1}, body, now));
    }
    CHECK(!backlog.empty());
    CHECK(dropped.count == 0);
    std::size_t got = 0;
    // libzmq tells the writer of the reader's progress by a command it processes at most
    // about every millisecond: turn until everything arrived, with a deadline.
    const auto deadline = steady_clock::now() + seconds(10);
    while (got < kSent && steady_clock::now() < deadline) {
        got += p.drain();
        backlog.retry(p.router, now);
        (void)p.router.get(zmq::sockopt::events); // lets the socket process its commands
    }
    got += p.drain();
    CHECK(got == kSent);
    CHECK(backlog.empty());
    CHECK(dropped.count == 0);
}

TEST_CASE("past its byte bound, or its age, a reply is dropped and counted") {
    Pair p(1);
    DroppedReplies dropped;
    ReplyBacklog backlog(10, dropped); // room for two 4-byte bodies
    auto now = steady_clock::now();
    for (int i = 0; i < 12; ++i) {
        zmq::message_t r = p.route(), body(std::string("body"));
        (void)backlog.send(p.router, {&r, 1}, body, now);
    }
    CHECK(backlog.size() == 2);
    const auto dropped_at_bound = dropped.count;
    CHECK(dropped_at_bound > 0);
    backlog.retry(p.router, now + ReplyBacklog::kMaxAge + 1ms); // the peer never read
    CHECK(backlog.empty());
    CHECK(dropped.count == dropped_at_bound + 2);
}

TEST_CASE("a reply to a peer that is gone is dropped at once") {
    Pair p(4);
    DroppedReplies dropped;
    ReplyBacklog backlog(1 << 20, dropped);
    zmq::message_t r(std::string("nobody")), body(std::string("body"));
    CHECK(!backlog.send(p.router, {&r, 1}, body, steady_clock::now()));
    CHECK(backlog.empty());
    CHECK(dropped.count == 1);
}

TEST_CASE("a relayed message is sent or held as it is: bodies intact, in order, bytes returned") {
    Pair p(4);
    DroppedReplies dropped;
    ReplyBacklog backlog(64 * 100, dropped); // room for all 100 bodies held at once
    auto now = steady_clock::now();
    constexpr int kSent = 100;
    for (int i = 0; i < kSent; ++i) {
        zmq::message_t r = p.route();
        std::string text = "relayed-" + std::to_string(i) + std::string(40, 'x'); // past 33 B
        zmq::message_t body(text.data(), text.size());
        CHECK(backlog.send(p.router, {&r, 1}, body, now));
        CHECK(body.size() == 0); // sent or held: taken either way, never copied back
    }
    CHECK(!backlog.empty());
    std::vector<std::string> got;
    const auto deadline = steady_clock::now() + seconds(10);
    while (got.size() < kSent && steady_clock::now() < deadline) {
        zmq::message_t m;
        while (p.dealer.recv(m, zmq::recv_flags::dontwait))
            if (!m.more()) got.push_back(m.to_string()); // after the delimiter
        backlog.retry(p.router, now);
        (void)p.router.get(zmq::sockopt::events);
    }
    REQUIRE(got.size() == kSent);
    for (int i = 0; i < kSent; ++i)
        CHECK(got[i] == "relayed-" + std::to_string(i) + std::string(40, 'x'));
    CHECK(backlog.empty());
    CHECK(dropped.count == 0);
    // Every held byte was given back: the bound admits a full backlog's worth again.
    for (int i = 0; i < 100; ++i) {
        zmq::message_t r = p.route();
        zmq::message_t body(std::string(60, 'y'));
        (void)backlog.send(p.router, {&r, 1}, body, now);
    }
    CHECK(dropped.count == 0);
}
