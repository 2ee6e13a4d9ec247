// The broker's policies, stepped in-process: the real zlb::broker::Broker on inproc
// sockets, a ManualTime the test advances, and fake clients and workers the test drives
// frame by frame. No sleeps: every wait is a bounded number of poll_once turns.
#include "broker/broker.hpp"
#include "core/clock.hpp"
#include "core/zmq_util.hpp"
#include "proto/msgpack_view.hpp"
#include "proto/worker.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace proto = zlb::proto;
namespace wp = zlb::proto::worker;
using zlb::view;

int g_serial = 0;

// One worker's entry in a status reply, by name.
struct WorkerStatus {
    std::string name;
    std::uint64_t credit = 0, strikes = 0, quarantined_ms = 0;
};

std::vector<WorkerStatus> workers_of(std::string_view status) {
    msgpack::zone zone;
    msgpack::object root;
    REQUIRE(!proto::detail::parse_root(zone, status, root));
    const auto* list = proto::detail::find(root.via.map, "workers");
    REQUIRE(list);
    std::vector<WorkerStatus> out;
    for (std::uint32_t i = 0; i < list->via.array.size; ++i) {
        const auto& m = list->via.array.ptr[i].via.map;
        WorkerStatus w;
        std::string_view name;
        REQUIRE(proto::detail::as_text(*proto::detail::find(m, "name"), name));
        w.name = name;
        proto::detail::as_uint(*proto::detail::find(m, "credit"), w.credit);
        proto::detail::as_uint(*proto::detail::find(m, "strikes"), w.strikes);
        proto::detail::as_uint(*proto::detail::find(m, "quarantined_ms"), w.quarantined_ms);
        out.push_back(w);
    }
    return out;
}

WorkerStatus worker_named(std::string_view status, std::string_view name) {
    for (auto& w : workers_of(status))
        if (w.name == name) return w;
    FAIL("no worker " << name);
    return {};
}

std::optional<std::uint64_t> field_uint(std::string_view body, std::string_view key) {
    msgpack::zone zone;
    msgpack::object root;
    if (proto::detail::parse_root(zone, body, root) || root.type != msgpack::type::MAP) return {};
    std::uint64_t v = 0;
    const auto* o = proto::detail::find(root.via.map, key);
    if (!o || !proto::detail::as_uint(*o, v)) return {};
    return v;
}

struct Rig {
    zmq::context_t ctx{1};
    zlb::ManualTime time;
    std::string frontend = "inproc://broker-fe-" + std::to_string(++g_serial);
    std::string backend = "inproc://broker-be-" + std::to_string(g_serial);
    std::optional<zlb::broker::Broker> broker;

    explicit Rig(zlb::broker::Settings s = {}) {
        s.frontends = {frontend};
        s.backends = {backend};
        s.name = "broker";
        s.stats_interval = 24h;
        broker.emplace(std::move(s), zlb::EngineEnv{ctx, time});
    }
    void step(int turns = 4) {
        for (int i = 0; i < turns; ++i) broker->poll_once(0ms);
    }
    // Steps until cond() holds, at most max_turns turns; returns cond().
    template <class F> bool step_until(F&& cond, int max_turns = 500) {
        for (int i = 0; i < max_turns && !cond(); ++i) broker->poll_once(1ms);
        return cond();
    }
};

// What a test keeps of a reply: the decoded views die with the next message.
struct Got {
    std::optional<std::uint64_t> id;
    bool ok = false;
    std::string server, error_code;
};

struct FakeClient {
    zmq::socket_t socket;
    msgpack::sbuffer buf;
    std::vector<zmq::message_t> frames;
    proto::ReplyDecoder decoder;
    std::string error;

    FakeClient(Rig& rig) : socket(rig.ctx, zmq::socket_type::dealer) {
        socket.set(zmq::sockopt::linger, 0);
        socket.connect(rig.frontend);
    }
    void send_body() {
        socket.send(zmq::message_t(), zmq::send_flags::sndmore);
        socket.send(zmq::buffer(buf.data(), buf.size()));
    }
    void echo(std::uint64_t id, std::optional<std::uint32_t> deadline_ms = {}) {
        proto::encode_echo_request(buf, id, "payload", deadline_ms);
        send_body();
    }
    void factor(std::uint64_t id) {
        const zlb::u128 n[] = {91};
        proto::encode_factor_request(buf, id, n, false);
        send_body();
    }
    // The next reply, if one is waiting: [ "", body ].
    std::optional<Got> reply() {
        if (!zlb::recv_frames(socket, frames)) return {};
        REQUIRE(frames.size() == 2);
        REQUIRE(frames[0].size() == 0);
        proto::Reply r;
        REQUIRE(decoder.decode(view(frames[1]), r, error));
        return Got{r.id, r.ok, std::string(r.server), std::string(r.error_code)};
    }
    // The broker's status reply, as msgpack bytes.
    std::string status(Rig& rig) {
        proto::encode_status_request(buf, 999);
        send_body();
        std::optional<std::string> body;
        rig.step_until([&] {
            if (!body && zlb::recv_frames(socket, frames)) body.emplace(view(frames.back()));
            return body.has_value();
        });
        REQUIRE(body);
        return *body;
    }
    std::uint64_t queued(Rig& rig) {
        auto queued = field_uint(status(rig), "queued");
        REQUIRE(queued);
        return *queued;
    }
};

struct Held {
    std::uint64_t token;
    std::uint64_t id;
    std::optional<std::uint32_t> deadline_ms;
};

struct FakeWorker {
    zmq::socket_t socket;
    std::string name;
    std::vector<Held> held;
    int heartbeats = 0, byes = 0;
    std::vector<zmq::message_t> frames;
    proto::RequestDecoder decoder;
    proto::Request request;
    proto::DecodeError error;
    msgpack::sbuffer buf;

    FakeWorker(Rig& rig, std::string worker_name, std::uint32_t credit,
               std::uint32_t ops = wp::op_bit(proto::Op::echo), std::uint32_t heartbeat_ms = 0)
        : socket(rig.ctx, zmq::socket_type::dealer), name(std::move(worker_name)) {
        socket.set(zmq::sockopt::linger, 0);
        socket.connect(rig.backend);
        wp::encode_ready(buf, {name, ops, credit, heartbeat_ms});
        socket.send(zmq::buffer(wp::kReady), zmq::send_flags::sndmore);
        socket.send(zmq::buffer(buf.data(), buf.size()));
    }
    // Reads everything the broker sent; requests are kept in `held`.
    void read() {
        while (zlb::recv_frames(socket, frames)) {
            std::string_view command = view(frames[0]);
            if (command == wp::kHeartbeat) ++heartbeats;
            else if (command == wp::kBye) ++byes;
            else if (auto token = wp::request_token(command)) {
                REQUIRE(frames.size() == 2);
                REQUIRE(decoder.decode(view(frames[1]), request, error));
                held.push_back({*token, *request.id, request.deadline_ms});
            } else {
                FAIL("unexpected command frame of ", command.size(), " bytes");
            }
        }
    }
    void command(std::string_view c) { socket.send(zmq::buffer(c)); }
    void answer_token(std::uint64_t token, std::uint64_t id) {
        proto::encode_echo(buf, {id, name, 1}, "payload", true);
        socket.send(zmq::buffer(wp::request_frame(token)), zmq::send_flags::sndmore);
        socket.send(zmq::buffer(buf.data(), buf.size()));
    }
    // Answers the oldest request held.
    Held answer() {
        REQUIRE(!held.empty());
        Held h = held.front();
        held.erase(held.begin());
        answer_token(h.token, h.id);
        return h;
    }
};

// Steps until the worker holds `count` requests.
bool worker_holds(Rig& rig, FakeWorker& w, std::size_t count) {
    return rig.step_until([&] {
        w.read();
        return w.held.size() >= count;
    });
}

// Steps until the client has `count` replies, collected in out.
bool replies(Rig& rig, FakeClient& c, std::vector<Got>& out, std::size_t count) {
    return rig.step_until([&] {
        while (auto r = c.reply()) out.push_back(*r);
        return out.size() >= count;
    });
}

} // namespace

TEST_CASE("a worker never holds more requests than its credit; a reply makes room") {
    Rig rig;
    FakeWorker w(rig, "w", 2);
    FakeClient c(rig);
    rig.step();
    for (std::uint64_t id = 1; id <= 3; ++id) c.echo(id);
    REQUIRE(worker_holds(rig, w, 2));
    rig.step(10);
    w.read();
    CHECK(w.held.size() == 2);
    CHECK(c.queued(rig) == 1);

    w.answer();
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].ok);
    REQUIRE(worker_holds(rig, w, 2)); // the queued third request took the freed credit
    CHECK(c.queued(rig) == 0);
}

TEST_CASE("each request goes to the worker with the most free credit") {
    Rig rig;
    FakeWorker small(rig, "small", 1), big(rig, "big", 3);
    FakeClient c(rig);
    rig.step();
    c.echo(1);
    REQUIRE(worker_holds(rig, big, 1)); // 3 free beats 1 free
    c.echo(2);
    REQUIRE(worker_holds(rig, big, 2)); // 2 free still beats 1 free
    small.read();
    CHECK(small.held.empty());
    c.echo(3); // 1 free each: either; then nobody has credit
    c.echo(4);
    REQUIRE(rig.step_until([&] {
        small.read();
        big.read();
        return small.held.size() + big.held.size() == 4;
    }));
    CHECK(small.held.size() == 1);
    CHECK(big.held.size() == 3);
}

TEST_CASE("a silent worker is dropped and its requests go to another; its late reply is ignored") {
    zlb::broker::Settings s;
    s.heartbeat = 1000ms;
    s.liveness = 3;
    Rig rig(s);
    FakeWorker dying(rig, "dying", 1);
    FakeClient c(rig);
    rig.step();
    c.echo(7);
    REQUIRE(worker_holds(rig, dying, 1));
    FakeWorker alive(rig, "alive", 1);
    rig.step();

    rig.time.advance(2500ms);
    alive.command(wp::kHeartbeat);
    rig.step();
    alive.read();
    CHECK(alive.held.empty()); // 2.5 s of silence is within 3 heartbeats

    rig.time.advance(1000ms);
    alive.command(wp::kHeartbeat);
    REQUIRE(worker_holds(rig, alive, 1)); // 3.5 s: "dying" is gone, its request moved
    CHECK(alive.held[0].id == 7);

    dying.answer(); // too late: the broker forgot this worker and asks it to re-register
    rig.step(10);
    std::vector<Got> got;
    CHECK(!c.reply());
    REQUIRE(rig.step_until([&] {
        dying.read();
        return dying.byes > 0;
    }));

    alive.answer();
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].server == "alive");
    rig.step(10);
    CHECK(!c.reply()); // exactly one reply
}

TEST_CASE("a worker with a slower heartbeat is waited for at its own; its heartbeats are answered") {
    zlb::broker::Settings s;
    s.heartbeat = 200ms;
    s.liveness = 3;
    Rig rig(s);
    FakeWorker slow(rig, "slow", 1, wp::op_bit(proto::Op::echo), 1000);
    FakeClient c(rig);
    rig.step();
    slow.read();
    int before = slow.heartbeats;
    slow.command(wp::kHeartbeat); // answered now, not at the broker's next heartbeat
    REQUIRE(rig.step_until([&] {
        slow.read();
        return slow.heartbeats > before;
    }));
    rig.time.advance(2500ms); // past 3 of the broker's intervals, within 3 of the worker's
    rig.step();
    CHECK(workers_of(c.status(rig)).size() == 1);
    rig.time.advance(1000ms);
    rig.step();
    CHECK(workers_of(c.status(rig)).empty());
}

TEST_CASE("a reply with a stale or garbled token is dropped, and the broker goes on serving") {
    Rig rig;
    FakeWorker w(rig, "w", 4);
    FakeClient c(rig);
    rig.step();
    c.echo(1);
    REQUIRE(worker_holds(rig, w, 1));
    Held h = w.held[0];

    w.answer_token(h.token ^ (std::uint64_t(1) << 40), h.id); // another generation
    w.answer_token(h.token + 1, h.id);                        // another slot
    w.socket.send(zmq::buffer(wp::kRequest), zmq::send_flags::sndmore); // no token at all
    w.socket.send(zmq::str_buffer("short"));
    // The right token with a delimiter before the body, or two bodies: not v2's framing.
    w.socket.send(zmq::buffer(wp::request_frame(h.token)), zmq::send_flags::sndmore);
    w.socket.send(zmq::message_t(), zmq::send_flags::sndmore);
    w.socket.send(zmq::str_buffer("x"));
    w.socket.send(zmq::buffer(wp::request_frame(h.token)), zmq::send_flags::sndmore);
    w.socket.send(zmq::str_buffer("x"), zmq::send_flags::sndmore);
    w.socket.send(zmq::str_buffer("y"));
    // Worker protocol v1's framing: the token in a frame of its own.
    w.socket.send(zmq::str_buffer("ZLB1REQ"), zmq::send_flags::sndmore);
    w.socket.send(zmq::buffer(&h.token, sizeof h.token), zmq::send_flags::sndmore);
    w.socket.send(zmq::message_t(), zmq::send_flags::sndmore);
    w.socket.send(zmq::str_buffer("x"));
    rig.step(10);
    CHECK(!c.reply());

    w.answer(); // the real one still matches
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].id == 1u);
    w.answer_token(h.token, h.id); // the same token again: a duplicate
    rig.step(10);
    CHECK(!c.reply());
}

TEST_CASE("queued requests expire, leave the queue, and free their places") {
    // Bug: expired requests used to stay counted, and the next request was refused.
    zlb::broker::Settings s;
    s.queue_max = 3;
    s.queue_timeout = 300ms;
    Rig rig(s);
    FakeClient c(rig);
    for (std::uint64_t id = 1; id <= 3; ++id) c.echo(id);
    rig.step();
    CHECK(c.queued(rig) == 3);

    c.echo(4); // over the bound, and no worker: refused at once
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].id == 4u);
    CHECK(got[0].error_code == "overloaded");

    rig.time.advance(299ms);
    rig.step();
    CHECK(!c.reply());
    rig.time.advance(2ms);
    got.clear();
    REQUIRE(replies(rig, c, got, 3));
    for (const auto& reply : got) CHECK(reply.error_code == "deadline_exceeded");
    CHECK(c.queued(rig) == 0);

    for (std::uint64_t id = 5; id <= 7; ++id) c.echo(id); // room for three again
    rig.step(10);
    CHECK(!c.reply());
    CHECK(c.queued(rig) == 3);

    // A worker that joins later gets what is still queued.
    FakeWorker w(rig, "late", 3);
    REQUIRE(worker_holds(rig, w, 3));
    CHECK(c.queued(rig) == 0);
}

TEST_CASE("a queue that nobody serves goes on expiring and counting right") {
    zlb::broker::Settings s;
    s.queue_max = 2;
    s.queue_timeout = 10ms;
    Rig rig(s);
    FakeClient c(rig);
    std::vector<Got> got;
    for (std::uint64_t round = 0; round < 200; ++round) {
        c.echo(2 * round);
        c.echo(2 * round + 1);
        rig.step(2);
        rig.time.advance(11ms);
        REQUIRE(replies(rig, c, got, 2 * (round + 1)));
    }
    for (const auto& reply : got) CHECK(reply.error_code == "deadline_exceeded");
    CHECK(c.queued(rig) == 0);
}

TEST_CASE("the queue bound is per op") {
    zlb::broker::Settings s;
    s.queue_max = 1;
    Rig rig(s);
    FakeClient c(rig);
    c.echo(1);
    c.factor(2); // another op: its own queue has room
    rig.step();
    CHECK(!c.reply());
    CHECK(c.queued(rig) == 2);
    c.echo(3);
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].id == 3u);
    CHECK(got[0].error_code == "overloaded");
}

TEST_CASE("deadline_ms bounds how long a request waits for credit") {
    Rig rig;
    FakeClient c(rig);
    c.echo(1, 50);
    rig.step();
    rig.time.advance(49ms);
    rig.step();
    CHECK(!c.reply());
    rig.time.advance(2ms);
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].error_code == "deadline_exceeded");
}

TEST_CASE("a leaving worker gets nothing new; workers are heartbeated") {
    Rig rig;
    FakeWorker w(rig, "w", 4);
    FakeClient c(rig);
    rig.step();
    w.command(wp::kBye);
    rig.step();
    c.echo(1);
    rig.step(10);
    w.read();
    CHECK(w.held.empty());
    CHECK(c.queued(rig) == 1);

    int before = w.heartbeats;
    rig.time.advance(1001ms);
    REQUIRE(rig.step_until([&] {
        w.read();
        return w.heartbeats > before;
    }));
}

TEST_CASE("a worker that holds a request too long loses it, and is quarantined until it answers") {
    zlb::broker::Settings s;
    s.worker_timeout = 500ms;
    s.quarantine = 1000ms;
    s.max_credit = 10;
    Rig rig(s);
    FakeWorker hole(rig, "hole", 1'000'000), real(rig, "real", 1);
    FakeClient c(rig);
    rig.step();
    CHECK(worker_named(c.status(rig), "hole").credit == 10); // capped

    c.echo(1);
    REQUIRE(worker_holds(rig, hole, 1)); // the most free credit
    rig.time.advance(499ms);
    hole.command(wp::kHeartbeat);
    real.command(wp::kHeartbeat);
    rig.step();
    real.read();
    CHECK(real.held.empty());
    rig.time.advance(2ms); // past --worker-timeout-ms, heartbeats or not
    hole.command(wp::kHeartbeat);
    REQUIRE(worker_holds(rig, real, 1));
    CHECK(real.held[0].id == 1u);
    auto st = worker_named(c.status(rig), "hole");
    CHECK(st.strikes == 1);
    CHECK(st.quarantined_ms > 900);

    c.echo(2); // real is busy, hole quarantined: it waits
    rig.step(10);
    hole.read();
    CHECK(hole.held.size() == 1); // only the first, never answered
    real.answer();
    REQUIRE(worker_holds(rig, real, 1)); // request 2, once real had room again
    CHECK(real.held[0].id == 2u);
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].server == "real");

    // The quarantine ends in time; then an answer clears the strikes.
    rig.time.advance(1001ms);
    hole.command(wp::kHeartbeat);
    real.command(wp::kHeartbeat);
    c.echo(3);
    REQUIRE(worker_holds(rig, hole, 2));
    hole.answer_token(hole.held[1].token, hole.held[1].id);
    REQUIRE(replies(rig, c, got, 2));
    CHECK(got[1].server == "hole");
    st = worker_named(c.status(rig), "hole");
    CHECK(st.strikes == 0);
    CHECK(st.quarantined_ms == 0);
}

TEST_CASE("a client's resend of a request does not go back to the worker that failed it") {
    zlb::broker::Settings s;
    s.worker_timeout = 5000ms;
    s.quarantine = 100ms;
    Rig rig(s);
    FakeWorker hole(rig, "hole", 8), real(rig, "real", 1);
    FakeClient c(rig);
    rig.step();
    c.echo(5, 300); // deadline_ms 300: the worker's time runs out with it
    REQUIRE(worker_holds(rig, hole, 1));
    CHECK(hole.held[0].deadline_ms <= 300u);
    rig.time.advance(301ms);
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].error_code == "deadline_exceeded");

    rig.time.advance(200ms); // the quarantine is over: hole has the most free credit
    hole.command(wp::kHeartbeat);
    real.command(wp::kHeartbeat);
    c.echo(5); // the same request again, from the same client
    REQUIRE(worker_holds(rig, real, 1));
    CHECK(real.held[0].id == 5u);
    c.echo(6); // another request may go to hole
    REQUIRE(worker_holds(rig, hole, 2));
    CHECK(hole.held[1].id == 6u);
}

TEST_CASE("a worker gets what is left of a request's deadline after it waited") {
    Rig rig;
    FakeClient c(rig);
    c.echo(1, 1000);
    rig.step();
    rig.time.advance(400ms);
    FakeWorker w(rig, "w", 1);
    REQUIRE(worker_holds(rig, w, 1));
    REQUIRE(w.held[0].deadline_ms);
    CHECK(*w.held[0].deadline_ms <= 600u);
    CHECK(*w.held[0].deadline_ms >= 590u);
}

TEST_CASE("worker names are printable and bounded") {
    Rig rig;
    FakeWorker evil(rig, "evil\n2026-01-01 info forged\x1b[31m" + std::string(200, 'x'), 1);
    FakeClient c(rig);
    rig.step();
    auto workers = workers_of(c.status(rig));
    REQUIRE(workers.size() == 1);
    const std::string& name = workers[0].name;
    CHECK(name.size() <= 64 + 3);
    CHECK(name.rfind("evil?2026", 0) == 0);
    for (char ch : name) CHECK((ch >= 0x20 && ch < 0x7f));
}

TEST_CASE("a request for an op no worker serves is answered at once") {
    Rig rig;
    FakeClient c(rig);
    c.factor(1); // no workers at all yet: it waits, one may be joining
    rig.step();
    CHECK(!c.reply());
    CHECK(c.queued(rig) == 1);
    FakeWorker w(rig, "echo-only", 4); // serves echo
    rig.step();
    c.factor(2);
    std::vector<Got> got;
    REQUIRE(replies(rig, c, got, 1));
    CHECK(got[0].id == 2u);
    CHECK(got[0].error_code == "unsupported_op");
    c.echo(3);
    REQUIRE(worker_holds(rig, w, 1));
}

TEST_CASE("deadline heap: earliest first, stale entries swept once they outnumber the live") {
    struct E {
        int at;
        int id;
    };
    zlb::broker::ExpiryHeap<E> heap;
    constexpr std::size_t kLive = 10;
    auto live_from = [](int newest) { return newest - static_cast<int>(kLive) + 1; };
    std::size_t most = 0;
    for (int id = 0; id < 100'000; ++id) {
        // The 10 newest are live: pushed in reverse order of deadline within each 100.
        heap.push({1'000'000 - id % 100 + id / 100 * 100, id}, kLive,
                  [&](const E& e) { return e.id < live_from(id); });
        most = std::max(most, heap.size());
    }
    CHECK(most <= 2 * kLive + decltype(heap)::kSlack + 1);
    CHECK(heap.size() >= kLive); // the live ones are never swept
    int last = INT32_MIN;
    std::size_t live_seen = 0;
    while (!heap.empty()) {
        CHECK(heap.top().at >= last);
        last = heap.top().at;
        live_seen += heap.top().id >= live_from(99'999);
        heap.pop();
    }
    CHECK(live_seen == kLive);
}
