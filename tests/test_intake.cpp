// The one request intake: framing, the size limit over every frame, decoding, and the
// same answer from zlb-server and zlb-broker for the same malformed message (each
// stepped in-process over inproc sockets).
#include "broker/broker.hpp"
#include "core/intake.hpp"
#include "core/zmq_util.hpp"
#include "server/server.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace proto = zlb::proto;
using Verdict = zlb::RequestIntake::Verdict;

constexpr std::size_t kLimit = 4096;

std::vector<zmq::message_t> frames_of(std::initializer_list<std::string_view> parts) {
    std::vector<zmq::message_t> frames;
    for (auto p : parts) frames.emplace_back(p.data(), p.size());
    return frames;
}

std::string echo_body(std::uint64_t id, std::size_t size = 8) {
    msgpack::sbuffer buf;
    proto::encode_echo_request(buf, id, std::string(size, 'e'));
    return {buf.data(), buf.size()};
}

std::string status_body(std::uint64_t id) {
    msgpack::sbuffer buf;
    proto::encode_status_request(buf, id);
    return {buf.data(), buf.size()};
}

// A server and a broker on inproc endpoints, both with the same size limit, and a
// DEALER connected to each.
struct Pair {
    zmq::context_t ctx{1};
    zlb::ManualTime time;
    std::optional<zlb::server::Server> server;
    std::optional<zlb::broker::Broker> broker;
    zmq::socket_t to_server{ctx, zmq::socket_type::dealer};
    zmq::socket_t to_broker{ctx, zmq::socket_type::dealer};

    Pair() {
        zlb::server::Settings ss;
        ss.binds = {"inproc://intake-server"};
        ss.name = "server";
        ss.mode = zlb::server::Mode::cpu;
        ss.threads = 1;
        ss.max_msg_bytes = kLimit;
        ss.stats_interval = 24h;
        server.emplace(std::move(ss), zlb::EngineEnv{ctx, time});
        zlb::broker::Settings bs;
        bs.frontends = {"inproc://intake-broker-fe"};
        bs.backends = {"inproc://intake-broker-be"};
        bs.name = "broker";
        bs.max_msg_bytes = kLimit;
        bs.stats_interval = 24h;
        broker.emplace(std::move(bs), zlb::EngineEnv{ctx, time});
        for (auto* s : {&to_server, &to_broker}) s->set(zmq::sockopt::linger, 0);
        to_server.connect("inproc://intake-server");
        to_broker.connect("inproc://intake-broker-fe");
    }

    // Sends the frames on the socket, steps the engines until a reply comes; returns it.
    std::vector<zmq::message_t> ask(zmq::socket_t& socket, std::vector<zmq::message_t> frames) {
        for (std::size_t i = 0; i < frames.size(); ++i)
            socket.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore
                                                         : zmq::send_flags::none);
        std::vector<zmq::message_t> reply;
        for (int turn = 0; turn < 500 && !zlb::recv_frames(socket, reply); ++turn) {
            server->poll_once(1ms);
            broker->poll_once(0ms);
        }
        return reply;
    }
};

struct Answer {
    std::size_t frames = 0;
    bool ok = false;
    std::string code, message;
};

Answer answer_of(const std::vector<zmq::message_t>& reply) {
    Answer a;
    a.frames = reply.size();
    REQUIRE(reply.size() == 2);
    CHECK(reply[0].size() == 0);
    proto::ReplyDecoder decoder;
    proto::Reply r;
    std::string error;
    REQUIRE(decoder.decode(zlb::view(reply[1]), r, error));
    a.ok = r.ok;
    a.code = r.error_code;
    a.message = r.error_message;
    return a;
}

} // namespace

TEST_CASE("intake: a well-formed request passes with its routing") {
    zlb::RequestIntake intake(kLimit);
    auto frames = frames_of({"peer", "proxy", "", echo_body(5)});
    REQUIRE(intake.take(frames) == Verdict::request);
    CHECK(intake.routing().size() == 2);
    CHECK(intake.request().id == 5u);
    CHECK(intake.request().op == proto::Op::echo);
}

TEST_CASE("intake: framing errors are bad_request, answered to the routing") {
    zlb::RequestIntake intake(kLimit);
    auto no_delimiter = frames_of({"peer", echo_body(1)});
    REQUIRE(intake.take(no_delimiter) == Verdict::refused);
    CHECK(intake.refusal().code == proto::ErrorCode::bad_request);
    CHECK(intake.routing().size() == 1);

    auto two_bodies = frames_of({"peer", "", echo_body(1), "x"});
    REQUIRE(intake.take(two_bodies) == Verdict::refused);
    CHECK(intake.refusal().code == proto::ErrorCode::bad_request);
    CHECK(intake.routing().size() == 1);

    auto no_routing = frames_of({"", echo_body(1)});
    CHECK(intake.take(no_routing) == Verdict::dropped);
}

TEST_CASE("intake: a broker link's request is [command, body], without a delimiter") {
    zlb::RequestIntake intake(kLimit);
    using zlb::Framing;
    auto frames = frames_of({"ZLB2REQ12345678", echo_body(5)});
    REQUIRE(intake.take(frames, Framing::command) == Verdict::request);
    CHECK(intake.routing().size() == 1);
    CHECK(intake.request().id == 5u);
    // A delimiter where the body should be, a second body, no body: bad_request, answered
    // to the command frame (the broker finds its request by it).
    const std::string body = echo_body(6);
    const std::vector<std::vector<std::string_view>> bads = {
        {"ZLB2REQ12345678", "", body}, {"ZLB2REQ12345678", body, "x"}, {"ZLB2REQ12345678"}};
    for (const auto& parts : bads) {
        std::vector<zmq::message_t> bad;
        for (auto p : parts) bad.emplace_back(p.data(), p.size());
        REQUIRE(intake.take(bad, Framing::command) == Verdict::refused);
        CHECK(intake.refusal().code == proto::ErrorCode::bad_request);
        CHECK(intake.routing().size() == 1);
    }
    auto huge = frames_of({"ZLB2REQ12345678", echo_body(7, 2 * kLimit)});
    REQUIRE(intake.take(huge, Framing::command) == Verdict::refused);
    CHECK(intake.refusal().code == proto::ErrorCode::too_large);
    CHECK(intake.refusal().id == 7u);
    // The same frames on a ROUTER are the client protocol's, and not a request there.
    auto same = frames_of({"ZLB2REQ12345678", echo_body(5)});
    CHECK(intake.take(same) == Verdict::refused);
}

TEST_CASE("intake: the size limit counts every frame, routing included") {
    zlb::RequestIntake intake(kLimit);
    // Small body, large envelope: over the limit in all.
    std::vector<std::string> routing(8, std::string(kLimit / 4, 'r'));
    std::vector<zmq::message_t> frames;
    frames.emplace_back("peer", 4);
    for (const auto& r : routing) frames.emplace_back(r.data(), r.size());
    frames.emplace_back();
    std::string body = echo_body(1);
    frames.emplace_back(body.data(), body.size());
    REQUIRE(intake.take(frames) == Verdict::refused);
    CHECK(intake.refusal().code == proto::ErrorCode::too_large);
    // The sender's own huge frames are not echoed back: only its identity is kept.
    CHECK(intake.routing().size() == 1);

    // Exactly at the limit passes; one byte over is refused.
    std::string at = echo_body(2);
    std::string pad(kLimit - at.size() - 4, 'p');
    auto exact = frames_of({"peer", pad, "", at});
    CHECK(intake.take(exact) == Verdict::request);
    auto over = frames_of({"peer", pad + "p", "", at});
    CHECK(intake.take(over) == Verdict::refused);
    CHECK(intake.refusal().id == 2u); // the id still comes back with too_large
    auto huge = frames_of({"peer", "", echo_body(7, 2 * kLimit)});
    REQUIRE(intake.take(huge) == Verdict::refused);
    CHECK(intake.refusal().code == proto::ErrorCode::too_large);
    CHECK(intake.refusal().id == 7u);
}

TEST_CASE("intake: a body that is not a request keeps the id it could read") {
    zlb::RequestIntake intake(kLimit);
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(3);
    pk.pack(std::string("v"));
    pk.pack(1);
    pk.pack(std::string("id"));
    pk.pack(42);
    pk.pack(std::string("op"));
    pk.pack(std::string("nonsense"));
    auto frames = frames_of({"peer", "", std::string_view(buf.data(), buf.size())});
    REQUIRE(intake.take(frames) == Verdict::refused);
    CHECK(intake.refusal().id == 42u);
    CHECK(intake.refusal().code == proto::ErrorCode::unsupported_op);
}

TEST_CASE("server and broker give the same answer to the same message") {
    Pair pair;
    std::string big(kLimit / 3, 'r');
    struct Case {
        const char* what;
        std::vector<std::string> frames; // as the DEALER sends them
    };
    const std::vector<Case> cases = {
        {"no delimiter", {echo_body(1)}},
        {"a second body", {"", echo_body(2), "x"}},
        {"routing frames past the limit", {big, big, big, big, "", echo_body(3)}},
        {"a body past the limit", {"", echo_body(4, kLimit)}},
        {"not msgpack", {"", "\xc1\xc1"}},
        {"a status request", {"", status_body(6)}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto make = [&] {
            std::vector<zmq::message_t> frames;
            for (const auto& f : c.frames) frames.emplace_back(f.data(), f.size());
            return frames;
        };
        Answer server = answer_of(pair.ask(pair.to_server, make()));
        Answer broker = answer_of(pair.ask(pair.to_broker, make()));
        CHECK(server.ok == broker.ok);
        CHECK(server.code == broker.code);
        CHECK(server.message == broker.message);
    }
    // And what that answer is.
    auto frames = [](std::initializer_list<std::string_view> p) { return frames_of(p); };
    CHECK(answer_of(pair.ask(pair.to_server, frames({echo_body(1)}))).code == "bad_request");
    CHECK(answer_of(pair.ask(pair.to_broker, frames({big, big, big, big, "", echo_body(3)}))).code ==
          "too_large");
    CHECK(answer_of(pair.ask(pair.to_server, frames({"", status_body(9)}))).ok);
}
