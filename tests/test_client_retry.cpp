// The client's retry policy, stepped in-process: the real Client on a ManualTime,
// talking to fake servers (plain ROUTER sockets) that the test answers, delays or drops
// by hand. Time moves only when a test advances it; nothing here sleeps.
#include "client/client.hpp"
#include "core/log.hpp"
#include "core/unique_fd.hpp"
#include "core/zmq_util.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono;
using zlb::ManualTime;
using zlb::client::Client;
using zlb::client::Settings;
namespace proto = zlb::proto;

namespace {

// The client's info lines (connects, peak memory) would bury doctest's own output.
[[maybe_unused]] const bool quiet_logs = (zlb::set_log_level(zlb::LogLevel::warn), true);

// One request as a fake server read it.
struct Received {
    std::string identity; // the client connection's routing id, to answer on
    std::uint64_t id = 0;
    std::string data; // the echo payload, sent back so the client's check passes
    bool data_is_str = false;
    zlb::Clock::time_point at; // ManualTime when the server read it
};

// A ROUTER socket in the test's context: reads the client's requests when told to and
// answers only what the test says.
struct FakeServer {
    FakeServer(zmq::context_t& ctx, const std::string& bind_at, std::string server_name)
        : socket(ctx, zmq::socket_type::router), name(std::move(server_name)) {
        socket.set(zmq::sockopt::linger, 0);
        socket.bind(bind_at);
        endpoint = socket.get(zmq::sockopt::last_endpoint);
    }

    // Reads every request waiting; returns how many arrived.
    std::size_t drain(const zlb::TimeSource& time) {
        std::size_t n = 0;
        std::vector<zmq::message_t> frames;
        while (zlb::recv_frames(socket, frames)) {
            REQUIRE(frames.size() == 3);
            REQUIRE(frames[1].size() == 0);
            proto::Request req;
            proto::DecodeError err;
            REQUIRE(decoder.decode(frames[2].to_string_view(), req, err));
            REQUIRE(req.id);
            received.push_back({frames[0].to_string(), *req.id, std::string(req.data),
                                req.data_is_str, time.now()});
            ++n;
        }
        return n;
    }

    std::vector<std::uint64_t> ids() const {
        std::vector<std::uint64_t> out;
        for (const auto& r : received) out.push_back(r.id);
        return out;
    }

    void reply_echo(const Received& r) {
        proto::encode_echo(buf, header(r), r.data, r.data_is_str);
        send(r);
    }
    void reply_error(const Received& r, proto::ErrorCode code) {
        proto::encode_error(buf, header(r), code, "fake");
        send(r);
    }
    void close() { socket.close(); }

    zmq::socket_t socket;
    std::string name;
    std::string endpoint; // as bound, ports filled in
    std::vector<Received> received;

private:
    proto::ReplyHeader header(const Received& r) const { return {r.id, name, 7}; }
    void send(const Received& r) {
        socket.send(zmq::buffer(r.identity), zmq::send_flags::sndmore);
        socket.send(zmq::message_t(), zmq::send_flags::sndmore);
        socket.send(zmq::buffer(buf.data(), buf.size()), zmq::send_flags::none);
    }

    proto::RequestDecoder decoder;
    msgpack::sbuffer buf;
};

// A loopback port held bound but not listening: connecting to it is refused, and no
// other process can take it meanwhile. (A closed zmq socket stops listening only later.)
struct ClosedPort {
    ClosedPort() : owner(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), fd(owner.get()) {
        REQUIRE(fd >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        endpoint = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    }
    zlb::UniqueFd owner;
    int fd;
    std::string endpoint;
};

// An inproc endpoint no other test uses.
std::string inproc_name(const char* what) {
    static unsigned serial = 0;
    return "inproc://client-retry-" + std::string(what) + "-" + std::to_string(serial++);
}

// Polls until cond() holds, at most max_turns times; true if it held.
bool step_until(Client& client, const std::function<bool()>& cond, int max_turns,
                milliseconds max_wait = 0ms) {
    for (int i = 0; i < max_turns; ++i) {
        client.poll_once(max_wait);
        if (cond()) return true;
    }
    return false;
}

// Advances time by `step` before each turn, until cond() holds; true if it did.
bool advance_until(Client& client, ManualTime& time, milliseconds step,
                   const std::function<bool()>& cond, int max_steps) {
    for (int i = 0; i < max_steps; ++i) {
        time.advance(step);
        client.poll_once(0ms);
        if (cond()) return true;
    }
    return false;
}

Settings settings_of(std::vector<std::string> endpoints, std::size_t count) {
    Settings s;
    s.endpoints = std::move(endpoints);
    s.work.op = proto::Op::echo;
    s.work.count = count;
    s.window = 1;
    s.timeout = 100ms;
    s.retries = 2;
    s.backoff = 10ms;
    s.backoff_max = 1000ms;
    s.connect_wait = 2000ms;
    s.verify = true;
    return s;
}

} // namespace

TEST_CASE("an attempt that times out is retried on another server, not the silent one") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("timeout-a"), "A"), b(ctx, inproc_name("timeout-b"), "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 2);
    s.window = 2; // request 0 goes to A, request 1 to B: the rotation then points at A
    s.retries = 1;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { a.drain(time); b.drain(time); return a.received.size() == 1 && b.received.size() == 1; }, 20));
    const auto t_sent = time.now();
    const std::uint64_t held = a.received[0].id;
    b.reply_echo(b.received[0]); // B is answering; A keeps its request
    REQUIRE(step_until(client, [&] { return client.report().overall().ok == 1; }, 20));

    // Nothing goes anywhere before the attempt's timeout.
    time.advance(99ms);
    step_until(client, [] { return false; }, 5);
    CHECK(a.drain(time) + b.drain(time) == 0);
    CHECK(client.report().overall().attempt_timeouts == 0);

    // Past it, the request is resent within one backoff, to B although the turn is A's.
    REQUIRE(advance_until(client, time, 1ms, [&] { a.drain(time); b.drain(time); return b.received.size() == 2; }, 20));
    CHECK(a.received.size() == 1);
    CHECK(b.received[1].id == held);
    CHECK(b.received[1].at >= t_sent + s.timeout);
    CHECK(client.report().overall().attempt_timeouts == 1);
    CHECK(client.report().retried() == 1);

    b.reply_echo(b.received[1]);
    REQUIRE(step_until(client, [&] { return client.done(); }, 20));
    CHECK(client.report().overall().ok == 2);
    CHECK(client.report().overall().timeouts == 0);
    CHECK(client.report().overall().errors == 0);
    CHECK(client.finish() == 0);
}

TEST_CASE("retries back off exponentially with jitter, capped at backoff_max") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("backoff"), "A"); // a lone server gets every retry
    auto s = settings_of({a.endpoint}, 1);
    s.retries = 5;
    s.backoff = 20ms;
    s.backoff_max = 100ms;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { return a.drain(time) == 1; }, 20));
    // Stepping 1 ms at a time, an attempt times out exactly `timeout` after it arrived, so
    // the gap between arrivals minus the timeout is the retry's delay, to the millisecond.
    std::vector<milliseconds> delays;
    for (unsigned retry = 1; retry <= s.retries; ++retry) {
        const auto before = a.received.size();
        REQUIRE(advance_until(client, time, 1ms, [&] { return a.drain(time) > 0; }, 1000));
        REQUIRE(a.received.size() == before + 1);
        const auto gap = a.received[before].at - a.received[before - 1].at;
        delays.push_back(duration_cast<milliseconds>(gap - s.timeout));
        CHECK(a.received[before].id == a.received[0].id);
    }
    // Bounds: [b/2, b] for the first retry, doubling, then capped at [max/2, max].
    const milliseconds lo[] = {10ms, 20ms, 40ms, 50ms, 50ms};
    const milliseconds hi[] = {20ms, 40ms, 80ms, 100ms, 100ms};
    for (std::size_t i = 0; i < delays.size(); ++i) {
        CAPTURE(i);
        CAPTURE(delays[i].count());
        CHECK(delays[i] >= lo[i]);
        CHECK(delays[i] <= hi[i]);
    }
    CHECK(client.report().retried() == 5);

    // The last attempt times out too, and that is the end of it.
    REQUIRE(advance_until(client, time, 1ms, [&] { return client.done(); }, 200));
    CHECK(a.drain(time) == 0);
    CHECK(client.report().overall().timeouts == 1);
    CHECK(client.report().overall().attempt_timeouts == 6);
}

TEST_CASE("jitter spreads the retries of requests that timed out together") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("jitter"), "A");
    auto s = settings_of({a.endpoint}, 16);
    s.window = 16;
    s.retries = 1;
    s.backoff = 40ms;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { a.drain(time); return a.received.size() == 16; }, 20));
    time.advance(s.timeout);
    client.poll_once(0ms); // all 16 time out in this one turn
    REQUIRE(client.report().overall().attempt_timeouts == 16);
    const auto timed_out = time.now();
    REQUIRE(advance_until(client, time, 1ms, [&] { a.drain(time); return a.received.size() == 32; }, 100));
    std::set<zlb::Clock::time_point> times;
    for (std::size_t i = 16; i < 32; ++i) {
        CHECK(a.received[i].at - timed_out >= 20ms);
        CHECK(a.received[i].at - timed_out <= 40ms);
        times.insert(a.received[i].at);
    }
    CHECK(times.size() >= 4); // not one burst
}

TEST_CASE("an overloaded reply is retried on another server") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("over-a"), "A"), b(ctx, inproc_name("over-b"), "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 2);
    s.window = 2;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { a.drain(time); b.drain(time); return a.received.size() == 1 && b.received.size() == 1; }, 20));
    b.reply_echo(b.received[0]);
    a.reply_error(a.received[0], proto::ErrorCode::overloaded);
    REQUIRE(step_until(client, [&] { return client.report().retried() == 1; }, 20));
    CHECK(client.report().overall().ok == 1);
    CHECK(client.report().overall().errors == 0);

    // The resend waits its backoff, then goes to B although the turn is A's.
    REQUIRE(advance_until(client, time, 1ms, [&] { a.drain(time); b.drain(time); return b.received.size() == 2; }, 20));
    CHECK(time.now() - a.received[0].at >= s.backoff / 2);
    CHECK(a.received.size() == 1);
    CHECK(b.received[1].id == a.received[0].id);
    b.reply_echo(b.received[1]);
    REQUIRE(step_until(client, [&] { return client.done(); }, 20));
    CHECK(client.report().overall().ok == 2);
    CHECK(client.report().overall().errors == 0);
    CHECK(client.report().overall().attempt_timeouts == 0);
    CHECK(client.finish() == 0);
}

TEST_CASE("a late overloaded from an earlier attempt leaves the retry under way alone") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("stale-over-a"), "A"), b(ctx, inproc_name("stale-over-b"), "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 1);
    s.retries = 1;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { a.drain(time); return a.received.size() == 1; }, 20));
    time.advance(101ms); // A's attempt times out; the retry goes to B
    REQUIRE(advance_until(client, time, 1ms, [&] { b.drain(time); return b.received.size() == 1; }, 50));
    a.reply_error(a.received[0], proto::ErrorCode::overloaded); // too late to matter
    step_until(client, [] { return false; }, 5);
    CHECK(client.report().retried() == 1); // no second retry
    CHECK(!client.done());
    b.reply_echo(b.received[0]);
    REQUIRE(step_until(client, [&] { return client.done(); }, 20));
    CHECK(client.report().overall().ok == 1);
    CHECK(client.report().overall().errors == 0);
    CHECK(client.finish() == 0);
}

TEST_CASE("errors other than overloaded are not retried") {
    for (auto code : {proto::ErrorCode::internal, proto::ErrorCode::bad_request,
                      proto::ErrorCode::deadline_exceeded, proto::ErrorCode::overloaded}) {
        CAPTURE(proto::to_string(code));
        zmq::context_t ctx;
        ManualTime time;
        FakeServer a(ctx, inproc_name("err-a"), "A"), b(ctx, inproc_name("err-b"), "B");
        auto s = settings_of({a.endpoint, b.endpoint}, 1);
        // overloaded with no retries left ends as an error like the others
        if (code == proto::ErrorCode::overloaded) s.retries = 0;
        Client client(s, {ctx, time});

        REQUIRE(step_until(client, [&] { return a.drain(time) == 1; }, 20));
        a.reply_error(a.received[0], code);
        REQUIRE(step_until(client, [&] { return client.done(); }, 20));
        advance_until(client, time, 10ms, [] { return false; }, 50); // past any backoff
        CHECK(a.drain(time) + b.drain(time) == 0);
        CHECK(client.report().overall().errors == 1);
        CHECK(client.report().overall().count == 1);
        CHECK(client.report().retried() == 0);
        CHECK(client.finish() == 1);
    }
}

// Over inproc there are no monitor events, so this one uses tcp on the loopback.
TEST_CASE("the requests of a server that disconnects go to another server before their timeout") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, "tcp://127.0.0.1:*", "A"), b(ctx, "tcp://127.0.0.1:*", "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 2);
    s.window = 2;
    s.timeout = 30s; // never reached: time only moves by the backoff below
    Client client(s, {ctx, time});

    // Real handshakes: each turn waits up to 5 ms for the monitor or a reply.
    REQUIRE(step_until(client, [&] { a.drain(time); b.drain(time); return a.received.size() == 1 && b.received.size() == 1; }, 400, 5ms));
    const std::uint64_t held = a.received[0].id;
    a.close(); // with request `held` in hand
    b.reply_echo(b.received[0]);
    // The disconnect schedules the retry; within one backoff it is sent, to B.
    REQUIRE(step_until(client, [&] { return client.report().retried() == 1; }, 400, 5ms));
    advance_until(client, time, 1ms, [] { return false; }, static_cast<int>(s.backoff.count()));
    // tcp delivers it a moment later, in real time.
    REQUIRE(step_until(client, [&] { b.drain(time); return b.received.size() == 2; }, 400, 5ms));
    CHECK(b.received[1].id == held);
    CHECK(client.report().overall().attempt_timeouts == 0);
    b.reply_echo(b.received[1]);
    REQUIRE(step_until(client, [&] { return client.done(); }, 400, 5ms));
    CHECK(client.report().overall().ok == 2);
    CHECK(client.report().overall().timeouts == 0);
    CHECK(client.finish() == 0);
}

// The failover code says "retry them now", and the request can't be answered where it
// is: there is nothing to back off from. Today it waits a backoff like any retry.
TEST_CASE("the requests of a server that disconnects are resent at once") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, "tcp://127.0.0.1:*", "A"), b(ctx, "tcp://127.0.0.1:*", "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 2);
    s.window = 2;
    s.timeout = 30s;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { a.drain(time); b.drain(time); return a.received.size() == 1 && b.received.size() == 1; }, 400, 5ms));
    const std::uint64_t held = a.received[0].id;
    a.close();
    // ManualTime stands still: only the disconnect can bring the request to B.
    REQUIRE(step_until(client, [&] { b.drain(time); return b.received.size() == 2; }, 400, 5ms));
    CHECK(b.received[1].id == held);
}

TEST_CASE("a reply arriving after its request ended counts once, as late") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("late-a"), "A"), b(ctx, inproc_name("late-b"), "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 2);
    s.retries = 1;
    Client client(s, {ctx, time});

    SUBCASE("the first attempt's reply comes after the retry's") {
        REQUIRE(step_until(client, [&] { return a.drain(time) == 1; }, 20));
        time.advance(s.timeout);
        REQUIRE(advance_until(client, time, 1ms, [&] { return b.drain(time) == 1; }, 20));
        REQUIRE(b.received[0].id == a.received[0].id);
        b.reply_echo(b.received[0]);
        REQUIRE(step_until(client, [&] { return client.report().overall().ok == 1; }, 20));
        // Request 1 is out (its id differs: the slot moved on); A answers request 0 now.
        a.reply_echo(a.received[0]);
    }
    SUBCASE("the first attempt's reply comes while the retry is out") {
        REQUIRE(step_until(client, [&] { return a.drain(time) == 1; }, 20));
        time.advance(s.timeout);
        REQUIRE(advance_until(client, time, 1ms, [&] { return b.drain(time) == 1; }, 20));
        a.reply_echo(a.received[0]); // still open: this reply ends it
        REQUIRE(step_until(client, [&] { return client.report().overall().ok == 1; }, 20));
        CHECK(client.report().late_replies() == 0);
        b.reply_echo(b.received[0]);
    }
    REQUIRE(step_until(client, [&] { return client.report().late_replies() == 1; }, 20));
    CHECK(client.report().overall().ok == 1);
    CHECK(client.report().overall().count == 1);

    // Request 1 ends normally; the duplicate changed nothing else.
    std::size_t answered[2] = {a.received.size(), b.received.size()};
    auto answer_rest = [&] {
        FakeServer* both[] = {&a, &b};
        for (int i = 0; i < 2; ++i) {
            both[i]->drain(time);
            for (; answered[i] < both[i]->received.size(); ++answered[i])
                both[i]->reply_echo(both[i]->received[answered[i]]);
        }
        return client.done();
    };
    REQUIRE(step_until(client, answer_rest, 20));
    CHECK(client.report().overall().ok == 2);
    CHECK(client.report().overall().count == 2);
    CHECK(client.report().overall().errors == 0);
    CHECK(client.report().late_replies() == 1);
    CHECK(client.report().invalid_replies() == 0);
    CHECK(client.finish() == 0);
}

TEST_CASE("with no server reachable, every request ends as a timeout without real waiting") {
    zmq::context_t ctx;
    ManualTime time;
    ClosedPort nowhere;
    auto s = settings_of({nowhere.endpoint}, 5);
    s.window = 2;
    s.timeout = 30s; // were any of this waited for, the test would take minutes
    s.connect_wait = 2s;
    s.wait_anyway = true; // without it the run would end at once (next test)
    Client client(s, {ctx, time});

    step_until(client, [] { return false; }, 5);
    time.advance(s.connect_wait); // starts anyway, with nobody to send to
    step_until(client, [] { return false; }, 5);
    time.advance(s.timeout - 1ms);
    step_until(client, [] { return false; }, 5);
    CHECK_FALSE(client.done());
    CHECK(client.report().overall().count == 0);

    REQUIRE(advance_until(client, time, 1ms, [&] { return client.done(); }, 5));
    const auto& all = client.report().overall();
    CHECK(all.count == 5);
    CHECK(all.timeouts == 5);
    CHECK(all.ok == 0);
    CHECK(all.errors == 0);
    CHECK(client.finish() == 1);
    CHECK(client.report().overall().timeouts == 5); // finish() added none
}

TEST_CASE("a request every server drops ends as one timeout after retries + 1 attempts") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("drop-a"), "A"), b(ctx, inproc_name("drop-b"), "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 1);
    s.retries = 3;
    Client client(s, {ctx, time});

    auto attempts = [&] {
        a.drain(time);
        b.drain(time);
        return a.received.size() + b.received.size();
    };
    REQUIRE(step_until(client, [&] { return attempts() == 1; }, 20));
    for (std::size_t n = 2; n <= s.retries + 1; ++n) {
        CAPTURE(n);
        REQUIRE(advance_until(client, time, 5ms, [&] { return attempts() == n; }, 100));
        CHECK_FALSE(client.done());
    }
    REQUIRE(advance_until(client, time, 5ms, [&] { return client.done(); }, 100));
    CHECK(attempts() == s.retries + 1);
    CHECK(a.received.size() >= 1); // both servers got a turn
    CHECK(b.received.size() >= 1);
    for (auto* srv : {&a, &b})
        for (auto id : srv->ids()) CHECK(id == a.received[0].id);
    const auto& all = client.report().overall();
    CHECK(all.count == 1);
    CHECK(all.timeouts == 1);
    CHECK(all.attempt_timeouts == s.retries + 1);
    CHECK(client.report().retried() == s.retries);
    CHECK(client.finish() == 1);
}

// "Any reply brings it back" (timeouts_expire): a reply from a suspected server should
// clear its suspicion. reply_handle calls peers_.alive(s.peer), the peer of the current
// attempt, not the peer the reply came from, so a late-but-counted reply from the first
// server clears the retry's server instead and leaves the first one out of the rotation.
TEST_CASE("a reply from a suspected server brings it back into the rotation") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("alive-a"), "A"), b(ctx, inproc_name("alive-b"), "B");
    auto s = settings_of({a.endpoint, b.endpoint}, 2);
    s.retries = 1;
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { return a.drain(time) == 1; }, 20));
    time.advance(s.timeout); // A is suspected for 3 heartbeats
    REQUIRE(advance_until(client, time, 1ms, [&] { return b.drain(time) == 1; }, 20));
    a.reply_echo(a.received[0]); // A answers after all: request 0 ends ok, from A
    REQUIRE(step_until(client, [&] { return client.report().overall().ok == 1; }, 20));
    // Request 1: the turn is A's and A has just proved alive, so it should go to A.
    REQUIRE(step_until(client, [&] { a.drain(time); b.drain(time); return a.received.size() + b.received.size() == 3; }, 20));
    CHECK(a.received.size() == 2);
}

TEST_CASE("with no endpoint up after connect_wait the run ends at once, nothing sent") {
    zmq::context_t ctx;
    ManualTime time;
    ClosedPort nowhere;
    auto s = settings_of({nowhere.endpoint}, 5);
    s.timeout = 30s;
    s.connect_wait = 2s;
    Client client(s, {ctx, time});

    step_until(client, [] { return false; }, 5);
    CHECK_FALSE(client.done());
    time.advance(s.connect_wait);
    REQUIRE(step_until(client, [&] { return client.done(); }, 5)); // no timeout waited for
    CHECK(client.report().overall().timeouts == 5);
    CHECK(client.finish() == 1);
}

// A monitor's fd is edge-triggered: it fires only for events that come after a read
// found its pipe empty. A monitor not read before the first wait slept that turn's whole
// max_wait (here 10 s; 1 s in every zlb-client run) with the handshake long done.
TEST_CASE("the first turn sees the handshake without waiting out its max_wait") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, "tcp://127.0.0.1:*", "A");
    auto s = settings_of({a.endpoint}, 1);
    s.connect_wait = 60s; // the turn's wait is max_wait, not what is left of this
    Client client(s, {ctx, time});

    const auto t0 = steady_clock::now();
    REQUIRE(step_until(client, [&] { a.drain(time); return a.received.size() == 1; }, 20, 10s));
    CHECK(steady_clock::now() - t0 < 5s);
}

// A pipe stands in for the StopSignals fd: each signalfd_siginfo-sized write is one signal.
struct FakeSignals {
    FakeSignals() { REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0); }
    ~FakeSignals() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    void raise() {
        signalfd_siginfo info{};
        REQUIRE(::write(fds[1], &info, sizeof info) == sizeof info);
    }
    int fd() const { return fds[0]; }
    int fds[2];
};

// One server and 10 echoes at `window`; stop_in_flight() raises the stop signal once the
// whole window is in flight there, and lets the client see it.
struct StopRig {
    zmq::context_t ctx;
    ManualTime time;
    FakeSignals stop;
    FakeServer a;
    std::size_t window;
    Client client;

    StopRig(const char* name, std::size_t window_size, std::chrono::milliseconds grace,
            std::chrono::milliseconds timeout)
        : a(ctx, inproc_name(name), "A"), window(window_size),
          client(settings(a.endpoint, window, grace, timeout), {ctx, time, stop.fd()}) {}

    static Settings settings(const std::string& endpoint, std::size_t window,
                             std::chrono::milliseconds grace, std::chrono::milliseconds timeout) {
        auto s = settings_of({endpoint}, 10);
        s.window = window;
        s.grace = grace;
        s.timeout = timeout;
        return s;
    }
    void stop_in_flight() {
        REQUIRE(step_until(client, [&] { a.drain(time); return a.received.size() == window; }, 20));
        stop.raise();
        client.poll_once(0ms);
    }
};

TEST_CASE("a stop signal stops sending, waits the grace for replies in flight, and reports") {
    StopRig rig("stop-a", 4, 1s, 30s);
    auto& time = rig.time;
    auto& a = rig.a;
    auto& client = rig.client;
    rig.stop_in_flight();
    a.reply_echo(a.received[0]);
    a.reply_echo(a.received[1]);
    REQUIRE(step_until(client, [&] { return client.report().overall().ok == 2; }, 20));
    step_until(client, [] { return false; }, 5);
    CHECK(a.drain(time) == 0); // the freed slots send nothing new
    CHECK_FALSE(client.done()); // two replies are still awaited, within the grace
    time.advance(999ms);
    step_until(client, [] { return false; }, 3);
    CHECK_FALSE(client.done());
    REQUIRE(advance_until(client, time, 1ms, [&] { return client.done(); }, 5));
    CHECK_FALSE(client.aborted());
    CHECK(client.finish() == 130);
    const auto& r = client.report();
    CHECK(r.was_interrupted());
    CHECK(r.overall().count == 2);
    CHECK(r.overall().timeouts == 0); // the two open ones are in flight, not outcomes
}

TEST_CASE("after a stop signal the run ends as soon as nothing is in flight") {
    StopRig rig("stop-b", 2, 60s, 100ms);
    auto& a = rig.a;
    auto& client = rig.client;
    rig.stop_in_flight();
    for (const auto& r : a.received) a.reply_echo(r);
    REQUIRE(step_until(client, [&] { return client.done(); }, 20)); // no 60 s wait
    CHECK(client.finish() == 130);
    CHECK(client.report().overall().ok == 2);
}

TEST_CASE("a second stop signal ends the run at once, without waiting for the grace") {
    StopRig rig("stop-c", 2, 60s, 100ms);
    auto& stop = rig.stop;
    auto& client = rig.client;
    rig.stop_in_flight();
    CHECK_FALSE(client.done());
    stop.raise();
    REQUIRE(step_until(client, [&] { return client.done(); }, 5));
    CHECK(client.aborted());
}

TEST_CASE("in open loop a server that does not answer holds no more than its share") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("share-a"), "A"), b(ctx, inproc_name("share-b"), "B"),
        c(ctx, inproc_name("share-c"), "C");
    auto s = settings_of({a.endpoint, b.endpoint, c.endpoint}, 90);
    s.window = 9; // a share of 3 each
    s.rate = 1000;
    s.timeout = 10s;
    Client client(s, {ctx, time});
    std::size_t answered[2] = {0, 0};
    auto answer = [&] {
        a.drain(time); // A takes requests and never answers
        FakeServer* live[] = {&b, &c};
        for (int i = 0; i < 2; ++i) {
            live[i]->drain(time);
            for (; answered[i] < live[i]->received.size(); ++answered[i])
                live[i]->reply_echo(live[i]->received[answered[i]]);
        }
    };
    for (int ms = 0; ms < 100; ++ms) {
        client.poll_once(0ms);
        answer();
        client.poll_once(0ms);
        time.advance(1ms);
    }
    CHECK(a.received.size() == 3);
    CHECK(b.received.size() + c.received.size() == 87);
    CHECK(client.report().late_starts() == 0); // B and C kept the timetable
    CHECK(client.report().overall().ok == 87);
}

TEST_CASE("behind one unanswered attempt, the answered ones' deadlines do not pile up") {
    zmq::context_t ctx;
    ManualTime time;
    FakeServer a(ctx, inproc_name("pileup"), "A");
    constexpr std::size_t kCount = 6000;
    auto s = settings_of({a.endpoint}, kCount);
    s.window = 4;
    s.retries = 0;
    s.timeout = 10'000ms; // time stands still: only the held request may time out, at the end
    Client client(s, {ctx, time});

    REQUIRE(step_until(client, [&] { return a.drain(time) == s.window; }, 20));
    const std::uint64_t held = a.received[0].id; // never answered
    std::size_t answered = 0, most = 0;
    std::size_t next = 1;
    // Every other request is answered as it comes: each leaves a stale deadline behind
    // the held one's, which stays in front for the whole timeout.
    REQUIRE(step_until(client, [&] {
        for (; next < a.received.size(); ++next, ++answered) a.reply_echo(a.received[next]);
        a.drain(time);
        most = std::max(most, client.deadlines_held());
        return client.report().overall().ok == kCount - 1;
    }, 100'000));
    CHECK(answered == kCount - 1);
    CHECK(most <= 2 * s.window + Client::kDeadlineSlack + 1);
    CHECK(most > 2 * s.window); // the sweep waited for the stale to outnumber the live

    // The held attempt still times out, on time.
    REQUIRE(advance_until(client, time, 100ms, [&] { return client.done(); }, 200));
    CHECK(client.report().overall().timeouts == 1);
    CHECK(client.report().overall().ok == kCount - 1);
    CHECK(a.ids()[0] == held);
}
