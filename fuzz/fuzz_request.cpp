// fuzz_request: one input is one request body.
//  1. proto::RequestDecoder decodes it: whatever the bytes, no crash, leak or UB, and the
//     same result as its general decoder alone (decode_full: the echo pattern reader must
//     never answer otherwise). A request that decodes is encoded again with the client-side
//     encoders and must decode the same.
//  2. The same bytes go to a real zlb::server::Server (mode cpu, so nothing is ever fetched)
//     from a DEALER, and Server::poll_once is stepped until the reply arrives. The protocol's
//     guarantees are checked: exactly one reply, promptly (a silent server aborts), which the
//     client's ReplyDecoder accepts, carrying the request's id (nil when it had none), and the
//     right answer: the decoder's error code, echo's data back, factors that are primes in
//     ascending order multiplying back to n.
// The first byte sometimes picks another frame layout (see layout_of). Any request that takes
// over 1 s is saved under /tmp/zlb-fuzz-slow/ and reported on stderr: slow factorization.
#include "core/log.hpp"
#include "core/unique_fd.hpp"
#include "core/zmq_util.hpp"
#include "factor/factor.hpp"
#include "proto/codec.hpp"
#include "proto/msgpack_view.hpp"
#include "server/server.hpp"

#include <zmq.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace std::chrono;
using zlb::u128;
namespace proto = zlb::proto;

constexpr std::string_view kServerName = "fuzz";
constexpr std::string_view kRoute = "fuzz-route";
constexpr auto kReplyWait = seconds(2);       // any request answered on the socket thread
constexpr auto kPoolReplyWait = seconds(60);  // factor jobs: past libFuzzer's -timeout
constexpr auto kSlow = seconds(1);

// recv_frames, taken again when libFuzzer's SIGALRM (its -timeout clock) interrupts it:
// cppzmq throws EINTR. zlb-server installs no signal handler, so this happens here only.
bool frames_take(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
    for (;;) {
        try {
            return zlb::recv_frames(socket, frames);
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
        }
    }
}

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
    std::fprintf(stderr, "fuzz_request: ");
    va_list args;
    va_start(args, fmt);
    std::vfprintf(stderr, fmt, args);
    va_end(args);
    std::fprintf(stderr, "\n");
    std::abort();
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) fail("check failed: " #cond ": " __VA_ARGS__);                                \
    } while (0)

enum class Layout {
    plain,        // ["", body]: the protocol's framing
    no_delimiter, // [body]: answered bad_request to the ROUTER's identity frame
    extra_frame,  // ["", body, "x"]: wrong frame count, answered bad_request with id nil
    routed,       // [route, "", body]: a routing frame to keep, as a broker would add
};

// Mostly plain, so that valid msgpack maps (0x8N) arrive framed the normal way.
Layout layout_of(std::string_view input) {
    if (input.empty()) return Layout::plain;
    switch (static_cast<unsigned char>(input[0]) & 0x0f) {
    case 13: return Layout::no_delimiter;
    case 14: return Layout::extra_frame;
    case 15: return Layout::routed;
    default: return Layout::plain;
    }
}

struct Harness {
    zlb::server::Settings settings;
    zlb::server::Server* server = nullptr;
    zmq::context_t ctx{1};
    zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
    proto::RequestDecoder decoder;
    proto::Request request;
    proto::DecodeError error;
    proto::RequestDecoder full_decoder;
    proto::Request full;
    proto::DecodeError full_error;
    proto::RequestDecoder redecoder;
    proto::Request redecoded;
    proto::DecodeError reerror;
    msgpack::sbuffer reencoded;
    proto::ReplyDecoder reply_decoder;
    proto::Reply reply;
    std::string reply_error;
    std::vector<zmq::message_t> frames;
    std::vector<u128> primes;

    Harness() {
        zlb::set_log_level(zlb::LogLevel::error);
        // The Server shares this harness's context, so inproc reaches it.
        std::string endpoint = "inproc://zlb-fuzz";
        settings.binds = {endpoint};
        settings.name = std::string(kServerName);
        settings.mode = zlb::server::Mode::cpu;
        settings.threads = 1;
        settings.stats_interval = hours(24);
        // Never destroyed: it lives as long as the process. No stop fd: ^C is libFuzzer's.
        server = new zlb::server::Server(settings, {ctx});
        dealer.set(zmq::sockopt::linger, 0);
        dealer.connect(endpoint);
    }

    void send(std::string_view input, Layout layout) {
        auto more = zmq::send_flags::sndmore;
        switch (layout) {
        case Layout::plain:
            dealer.send(zmq::message_t(), more);
            dealer.send(zmq::buffer(input.data(), input.size()));
            break;
        case Layout::no_delimiter: dealer.send(zmq::buffer(input.data(), input.size())); break;
        case Layout::extra_frame:
            dealer.send(zmq::message_t(), more);
            dealer.send(zmq::buffer(input.data(), input.size()), more);
            dealer.send(zmq::str_buffer("x"));
            break;
        case Layout::routed:
            dealer.send(zmq::buffer(kRoute.data(), kRoute.size()), more);
            dealer.send(zmq::message_t(), more);
            dealer.send(zmq::buffer(input.data(), input.size()));
            break;
        }
    }

    // Steps the server until the DEALER holds a whole reply in frames.
    void await_reply(std::string_view input, steady_clock::duration limit) {
        const auto start = steady_clock::now();
        zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
        while (!frames_take(dealer, frames)) {
            if (steady_clock::now() - start > limit)
                fail("no reply after %lld ms to a %zu-byte request: the server stayed silent",
                     static_cast<long long>(duration_cast<milliseconds>(limit).count()),
                     input.size());
            // SIGALRM interrupts poll(2) the same way (see frames_take); the server's turn
            // threw before touching anything, so it is simply taken again.
            try {
                server->poll_once(milliseconds(2));
                zmq::poll(&item, 1, milliseconds(2));
            } catch (const zmq::error_t& e) {
                if (e.num() != EINTR) throw;
            }
        }
    }

    void save_slow(std::string_view input, steady_clock::duration took) {
        const char* dir = "/tmp/zlb-fuzz-slow";
        ::mkdir(dir, 0755);
        char path[128];
        std::snprintf(path, sizeof path, "%s/slow-%016zx", dir, std::hash<std::string_view>{}(input));
        if (zlb::UniqueFile f{std::fopen(path, "wb")})
            std::fwrite(input.data(), 1, input.size(), f.get());
        std::fprintf(stderr, "fuzz_request: SLOW: %lld ms for a %zu-byte request, saved as %s\n",
                     static_cast<long long>(duration_cast<milliseconds>(took).count()),
                     input.size(), path);
    }
};

Harness& harness() {
    static Harness* h = new Harness; // never destroyed: no teardown race with libFuzzer's exit
    return *h;
}

std::string id_text(std::optional<std::uint64_t> id) {
    return id ? std::to_string(*id) : std::string("nil");
}

bool known_op(proto::Op op) {
    return op == proto::Op::echo || op == proto::Op::factor || op == proto::Op::fetch ||
           op == proto::Op::status;
}

bool goes_to_pool(const proto::Request& r) {
    if (r.ns.size() > 16) return true;
    for (u128 n : r.ns)
        if (n >= (u128(1) << 32)) return true;
    return false;
}

// A reply ReplyDecoder refused, read directly: a msgpack map with v 1, ok and this id.
void check_raw_reply(std::string_view body, std::optional<std::uint64_t> id) {
    msgpack::object_handle oh;
    try {
        oh = msgpack::unpack(body.data(), body.size());
    } catch (const std::exception& e) {
        fail("reply is not msgpack: %s", e.what());
    }
    const msgpack::object& root = oh.get();
    CHECK(root.type == msgpack::type::MAP, "reply is not a map");
    std::uint64_t v = 0;
    const auto* version = zlb::proto::detail::find(root.via.map, "v");
    CHECK(version && zlb::proto::detail::as_uint(*version, v) && v == proto::kVersion, "reply v");
    const auto* ok = zlb::proto::detail::find(root.via.map, "ok");
    CHECK(ok && ok->type == msgpack::type::BOOLEAN, "reply without ok");
    const auto* rid = zlb::proto::detail::find(root.via.map, "id");
    std::uint64_t got = 0;
    CHECK(rid && zlb::proto::detail::as_uint(*rid, got) && id && got == *id, "reply id");
}

// Two decodings of one request say the same: head, and the op's own fields (the others
// keep what an earlier request left there).
bool same_request(const proto::Request& a, const proto::Request& b) {
    if (a.id != b.id || a.op != b.op || a.deadline_ms != b.deadline_ms) return false;
    switch (a.op) {
    case proto::Op::echo: return a.data == b.data;
    case proto::Op::factor: return a.ns == b.ns && a.batch == b.batch;
    case proto::Op::fetch:
        return a.fetch.url == b.fetch.url && a.fetch.head == b.fetch.head &&
               a.fetch.timeout_ms == b.fetch.timeout_ms && a.fetch.max_bytes == b.fetch.max_bytes &&
               a.fetch.want_body == b.fetch.want_body;
    case proto::Op::status: return true;
    }
    return false;
}

// decode (the echo pattern first) and decode_full agree on every input.
void check_same_as_full(Harness& h, std::string_view input, bool decoded) {
    CHECK(h.full_decoder.decode_full(input, h.full, h.full_error) == decoded,
          "decode and decode_full disagree on whether it decodes");
    CHECK(h.request.id == h.full.id, "decode and decode_full read different ids");
    if (!decoded) {
        CHECK(h.error.code == h.full_error.code && h.error.message == h.full_error.message,
              "decode and decode_full refuse differently: %s / %s", h.error.message.c_str(),
              h.full_error.message.c_str());
        return;
    }
    CHECK(same_request(h.request, h.full) && h.request.data_is_str == h.full.data_is_str,
          "decode and decode_full read different requests");
}

// A request that decoded must survive the client-side encoders unchanged.
void check_reencode(Harness& h) {
    const auto& r = h.request;
    if (r.op == proto::Op::echo)
        proto::encode_echo_request(h.reencoded, *r.id, r.data, r.deadline_ms);
    else if (r.op == proto::Op::factor)
        proto::encode_factor_request(h.reencoded, *r.id, r.ns, r.batch, r.deadline_ms);
    else if (r.op == proto::Op::fetch)
        proto::encode_fetch_request(h.reencoded, *r.id, r.fetch, r.deadline_ms);
    else
        return; // an op added since: no expectations here yet
    CHECK(h.redecoder.decode({h.reencoded.data(), h.reencoded.size()}, h.redecoded, h.reerror),
          "%s", h.reerror.message.c_str());
    CHECK(same_request(h.redecoded, r), "the request changed through the client's encoder");
}

// One list of factors for n: primes, ascending, whose product is n.
void check_factors(const u128* f, std::uint32_t count, u128 n) {
    u128 product = 1;
    for (std::uint32_t i = 0; i < count; ++i) {
        CHECK(f[i] >= 2 && zlb::is_prime(f[i]), "factor %s of %s is not prime",
              zlb::to_string_u128(f[i]).c_str(), zlb::to_string_u128(n).c_str());
        CHECK(i == 0 || f[i - 1] <= f[i], "factors of %s are not ascending",
              zlb::to_string_u128(n).c_str());
        CHECK(product <= ~u128(0) / f[i], "factors of %s multiply past 2^128",
              zlb::to_string_u128(n).c_str());
        product *= f[i];
    }
    CHECK(product == n, "factors of %s multiply to %s", zlb::to_string_u128(n).c_str(),
          zlb::to_string_u128(product).c_str());
}

void check_factor_reply(const proto::Request& r, const proto::Reply& rep) {
    if (r.batch && r.ns.empty()) {
        // An empty batch is answered factors: [], which reads back as one empty list.
        CHECK(rep.factors.empty() && rep.factor_sizes.size() <= 1, "empty batch");
        return;
    }
    CHECK(rep.factor_sizes.size() == r.ns.size(), "%zu factor lists for %zu numbers",
          rep.factor_sizes.size(), r.ns.size());
    std::size_t at = 0;
    for (std::size_t i = 0; i < r.ns.size(); ++i) {
        CHECK(at + rep.factor_sizes[i] <= rep.factors.size(), "factor lists overrun");
        check_factors(rep.factors.data() + at, rep.factor_sizes[i], r.ns[i]);
        at += rep.factor_sizes[i];
    }
    CHECK(at == rep.factors.size(), "stray factors");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    harness();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Harness& h = harness();
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    // 1. The decoder alone, as the server will run it.
    const bool decoded = h.decoder.decode(input, h.request, h.error);
    check_same_as_full(h, input, decoded);
    if (decoded) {
        CHECK(h.request.id.has_value(), "decoded without an id");
        check_reencode(h);
    }
    const proto::Request& req = h.request;

    // 2. The server. Nothing may be waiting from the previous input.
    CHECK(!frames_take(h.dealer, h.frames), "a reply nobody asked for (a second reply?)");
    const Layout layout = layout_of(input);
    const bool framed = layout == Layout::plain || layout == Layout::routed;
    // The limit counts every frame: the ROUTER's 5-byte identity and any routing too.
    const std::size_t envelope = 5 + (layout == Layout::routed ? kRoute.size() : 0);
    const bool too_large = size + envelope > h.settings.max_msg_bytes;
    const bool pool = framed && !too_large && decoded && req.op == proto::Op::factor &&
                      (!req.deadline_ms || *req.deadline_ms > 0) && goes_to_pool(req);

    const auto start = steady_clock::now();
    h.send(input, layout);
    h.await_reply(input, pool ? kPoolReplyWait : kReplyWait);
    const auto took = steady_clock::now() - start;
    if (took > kSlow) h.save_slow(input, took);

    // The envelope: what the DEALER sent before the delimiter comes back, then one body.
    const std::size_t prefix = layout == Layout::routed ? 2 : 1;
    CHECK(h.frames.size() == prefix + 1, "%zu reply frames", h.frames.size());
    if (layout == Layout::routed) CHECK(zlb::view(h.frames[0]) == kRoute, "routing frame lost");
    CHECK(h.frames[prefix - 1].size() == 0, "no delimiter in the reply");
    const auto& counters = h.server->counters();
    CHECK(counters.answered == counters.received, "received %llu, answered %llu",
          static_cast<unsigned long long>(counters.received),
          static_cast<unsigned long long>(counters.answered));

    proto::Reply& rep = h.reply;
    const std::string_view body = zlb::view(h.frames[prefix]);
    if (!h.reply_decoder.decode(body, rep, h.reply_error)) {
        // Ops newer than this harness (status) may answer what ReplyDecoder can't read yet:
        // said once, and the reply still has to be a v1 map for this id. Others must decode.
        CHECK(framed && !too_large && decoded && !known_op(req.op),
              "the client can't read the reply: %s", h.reply_error.c_str());
        static bool noted = false;
        if (!noted)
            std::fprintf(stderr, "fuzz_request: NOTE: ReplyDecoder can't read the reply to op %s: %s\n",
                         proto::to_string(req.op).data(), h.reply_error.c_str());
        noted = true;
        check_raw_reply(body, req.id);
        return 0;
    }
    CHECK(rep.server == kServerName, "server name");

    // What the reply must say.
    std::optional<std::uint64_t> id;
    std::optional<proto::ErrorCode> code;
    if (too_large) {
        code = proto::ErrorCode::too_large;
        if (framed) id = proto::request_id_peek(input); // the id comes back when it can be read
    } else if (!framed) {
        code = proto::ErrorCode::bad_request;
    } else if (!decoded) {
        id = req.id;
        code = h.error.code;
    } else {
        id = req.id;
        if (req.op == proto::Op::fetch) code = proto::ErrorCode::unsupported_op;
        else if (known_op(req.op) && req.deadline_ms && *req.deadline_ms == 0)
            code = proto::ErrorCode::deadline_exceeded;
    }
    CHECK(rep.id == id, "reply id %s, request id %s", id_text(rep.id).c_str(), id_text(id).c_str());
    if (decoded && !code && !known_op(req.op)) return 0; // an op added since: the id is all we know
    if (code) {
        CHECK(!rep.ok && rep.error_code == proto::to_string(*code), "expected %s, got %s %.*s",
              proto::to_string(*code).data(), rep.ok ? "ok" : "error",
              static_cast<int>(rep.error_code.size()), rep.error_code.data());
        CHECK(!rep.error_message.empty(), "error without a message");
    } else if (req.op == proto::Op::echo) {
        CHECK(rep.ok && rep.data == req.data, "echo did not come back");
    } else if (req.op == proto::Op::status) {
        CHECK(rep.ok, "status failed");
    } else if (!rep.ok) {
        // Only a deadline the request itself set may stop a factorization.
        CHECK(req.deadline_ms && rep.error_code == "deadline_exceeded", "factor failed: %.*s: %.*s",
              static_cast<int>(rep.error_code.size()), rep.error_code.data(),
              static_cast<int>(rep.error_message.size()), rep.error_message.data());
    } else {
        check_factor_reply(req, rep);
    }
    return 0;
}
