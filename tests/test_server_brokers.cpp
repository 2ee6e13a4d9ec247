// A worker of several brokers: one link per broker, each with its share of the credit,
// and every reply on the link its request came in on (stepped in-process: two ROUTERs
// stand in for the brokers' backends).
#include "core/zmq_util.hpp"
#include "proto/worker.hpp"
#include "server/server.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <optional>
#include <set>
#include <thread>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace proto = zlb::proto;
namespace wp = zlb::proto::worker;

struct TwoBrokers {
    zmq::context_t ctx{1};
    zlb::ManualTime time;
    std::vector<zmq::socket_t> backends;
    std::optional<zlb::server::Server> server;
    std::vector<std::string> worker_ids; // each backend's routing id for the server

    explicit TwoBrokers(zlb::server::CreditPolicy policy, unsigned threads = 3) {
        zlb::server::Settings ss;
        for (int i = 0; i < 2; ++i) {
            auto endpoint = "inproc://brokers-" + std::to_string(i);
            backends.emplace_back(ctx, zmq::socket_type::router);
            backends.back().set(zmq::sockopt::linger, 0);
            backends.back().bind(endpoint);
            ss.brokers.push_back(endpoint);
        }
        ss.name = "worker";
        ss.mode = zlb::server::Mode::cpu;
        ss.threads = threads;
        ss.credit_policy = policy;
        ss.stats_interval = 24h;
        server.emplace(std::move(ss), zlb::EngineEnv{ctx, time});
        worker_ids.resize(backends.size());
    }

    // Steps the server until backend i has a message; returns its frames after the id.
    std::vector<zmq::message_t> read(std::size_t i) {
        std::vector<zmq::message_t> frames;
        for (int turn = 0; turn < 2000 && !zlb::recv_frames(backends[i], frames); ++turn)
            server->poll_once(1ms);
        REQUIRE(!frames.empty());
        worker_ids[i] = std::string(zlb::view(frames[0]));
        frames.erase(frames.begin());
        return frames;
    }

    wp::Ready ready(std::size_t i) {
        auto frames = read(i);
        REQUIRE(frames.size() == 2);
        REQUIRE(zlb::view(frames[0]) == wp::kReady);
        auto r = wp::decode_ready(zlb::view(frames[1]));
        REQUIRE(r);
        return *r;
    }

    // token: 8 bytes, as the broker's are.
    void request_send(std::size_t i, std::string_view token, const msgpack::sbuffer& body) {
        REQUIRE(token.size() == sizeof(std::uint64_t));
        auto& s = backends[i];
        s.send(zmq::buffer(worker_ids[i]), zmq::send_flags::sndmore);
        std::string head(wp::kRequest);
        head += token;
        s.send(zmq::buffer(head), zmq::send_flags::sndmore);
        s.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::none);
    }

    // The reply to a request on backend i, [REQUEST+token, body]: heartbeats skipped.
    std::vector<zmq::message_t> reply(std::size_t i) {
        for (;;) {
            auto frames = read(i);
            if (zlb::view(frames[0]) == wp::kHeartbeat) continue;
            REQUIRE(frames.size() == 2);
            REQUIRE(wp::request_token(zlb::view(frames[0])));
            return frames;
        }
    }
    // The token of the reply to a request on backend i.
    std::string reply_token(std::size_t i) {
        return std::string(zlb::view(reply(i)[0]).substr(wp::kRequest.size()));
    }

    bool backend_quiet(std::size_t i) {
        std::vector<zmq::message_t> frames;
        server->poll_once(0ms);
        while (zlb::recv_frames(backends[i], frames))
            if (zlb::view(frames[1]) != wp::kHeartbeat) return false;
        return true;
    }
};

} // namespace

TEST_CASE("several brokers: split credit divides the total, the first brokers get the rest") {
    TwoBrokers t(zlb::server::CreditPolicy::split, 3);
    const auto first = t.ready(0);
    CHECK(first.credit == 2);
    CHECK(first.heartbeat_ms == 1000); // the default: the broker waits at the slower interval
    CHECK(t.ready(1).credit == 1);
}

TEST_CASE("several brokers: split credit gives every broker at least one") {
    TwoBrokers t(zlb::server::CreditPolicy::split, 1);
    CHECK(t.ready(0).credit == 1);
    CHECK(t.ready(1).credit == 1);
}

TEST_CASE("several brokers: shared credit gives every broker all of it") {
    TwoBrokers t(zlb::server::CreditPolicy::shared, 3);
    CHECK(t.ready(0).credit == 3);
    CHECK(t.ready(1).credit == 3);
}

TEST_CASE("several brokers: each reply goes back on the link its request came in on") {
    TwoBrokers t(zlb::server::CreditPolicy::split, 2);
    (void)t.ready(0);
    (void)t.ready(1);
    msgpack::sbuffer echo, factor;
    proto::encode_echo_request(echo, 1, "hello");
    const std::vector<zlb::u128> numbers{zlb::u128(1000003) * 999983};
    proto::encode_factor_request(factor, 2, numbers, false);
    // Inline (echo) and through the worker pool (factor), on each link.
    t.request_send(1, "echo-on1", echo);
    CHECK(t.reply_token(1) == "echo-on1");
    CHECK(t.backend_quiet(0));
    t.request_send(0, "fact-on0", factor);
    CHECK(t.reply_token(0) == "fact-on0");
    t.request_send(1, "fact-on1", factor);
    CHECK(t.reply_token(1) == "fact-on1");
    CHECK(t.backend_quiet(0));
    CHECK(t.server->counters().answered == 3);
}

TEST_CASE("a broker link's request framed otherwise is answered bad_request on its command frame") {
    TwoBrokers t(zlb::server::CreditPolicy::split, 2);
    (void)t.ready(0);
    msgpack::sbuffer echo;
    proto::encode_echo_request(echo, 4, "hi");
    // Worker protocol v1's delimiter before the body: v2 has none.
    std::string head(wp::kRequest);
    head += "badframe";
    t.backends[0].send(zmq::buffer(t.worker_ids[0]), zmq::send_flags::sndmore);
    t.backends[0].send(zmq::buffer(head), zmq::send_flags::sndmore);
    t.backends[0].send(zmq::message_t(), zmq::send_flags::sndmore);
    t.backends[0].send(zmq::buffer(echo.data(), echo.size()), zmq::send_flags::none);
    auto frames = t.reply(0);
    CHECK(zlb::view(frames[0]) == head);
    proto::ReplyDecoder decoder;
    proto::Reply r;
    std::string error;
    REQUIRE(decoder.decode(zlb::view(frames[1]), r, error));
    CHECK(!r.ok);
    CHECK(r.error_code == "bad_request");
    // And the same request framed right is answered.
    t.request_send(0, "goodfram", echo);
    frames = t.reply(0);
    REQUIRE(decoder.decode(zlb::view(frames[1]), r, error));
    CHECK(r.ok);
    CHECK(r.id == 4u);
}

TEST_CASE("factor results that pile up past one turn's read cap are all forwarded") {
    // The pool's results socket is polled by its edge-triggered fd: a turn that stops at
    // kMaxReadsPerTurn must come back for the rest, as nothing announces them again.
    TwoBrokers t(zlb::server::CreditPolicy::split, 2); // queue: 512 jobs
    (void)t.ready(0);
    msgpack::sbuffer factor;
    // Two 32-bit primes: above the inline limit, so each goes through the pool.
    const std::vector<zlb::u128> numbers{zlb::u128(4294967291u) * 4294967279u};
    proto::encode_factor_request(factor, 1, numbers, false);
    constexpr int kJobs = 500;
    static_assert(kJobs > 256);
    for (int i = 0; i < kJobs; ++i) {
        char token[9];
        std::snprintf(token, sizeof token, "%08d", i);
        t.request_send(0, std::string_view(token, 8), factor);
    }
    // Take every request in, then let the workers finish while the socket thread reads
    // nothing, so the results wait together.
    for (int turn = 0; turn < 2000 && t.server->counters().received < kJobs; ++turn)
        t.server->poll_once(1ms);
    REQUIRE(t.server->counters().received == kJobs);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (t.server->cpu_queued() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    std::set<std::string> tokens;
    for (int i = 0; i < kJobs; ++i) tokens.insert(t.reply_token(0));
    CHECK(tokens.size() == kJobs);
    CHECK(t.server->counters().answered == kJobs);
}
