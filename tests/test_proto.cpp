// Protocol v1 codec: round trips and malformed input.
#include "proto/codec.hpp"
#include "proto/msgpack_view.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace zlb;
using namespace zlb::proto;

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

std::string_view view(const msgpack::sbuffer& b) { return {b.data(), b.size()}; }

// Builds a request map from alternating key/value pairs packed by the callback.
template <class F> msgpack::sbuffer build(std::uint32_t fields, F&& pack) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pk.pack_map(fields);
    pack(pk);
    return buf;
}

struct Decoded {
    bool ok;
    Request req;
    DecodeError err;
};

Decoded decode(std::string_view bytes) {
    static RequestDecoder decoder;
    Decoded d{};
    d.ok = decoder.decode(bytes, d.req, d.err);
    return d;
}

} // namespace

TEST_CASE("echo request round trip keeps id, data and deadline") {
    msgpack::sbuffer buf;
    encode_echo_request(buf, 42, "hello", 250);
    auto d = decode(view(buf));
    REQUIRE(d.ok);
    CHECK(d.req.id == 42u);
    CHECK(d.req.op == Op::echo);
    CHECK(d.req.data == "hello");
    CHECK_FALSE(d.req.data_is_str);
    CHECK(d.req.deadline_ms == 250u);
}

TEST_CASE("factor request: small numbers as ints, big ones as decimal strings") {
    std::vector<u128> ns{1, 97, UINT64_MAX, u128(UINT64_MAX) + 1, ~u128(0)};
    msgpack::sbuffer buf;
    encode_factor_request(buf, 7, ns, true);
    auto d = decode(view(buf));
    REQUIRE(d.ok);
    CHECK(d.req.batch);
    CHECK(d.req.ns == ns);

    encode_factor_request(buf, 8, std::span(ns).subspan(4, 1), false);
    d = decode(view(buf));
    REQUIRE(d.ok);
    CHECK_FALSE(d.req.batch);
    REQUIRE(d.req.ns.size() == 1);
    CHECK(d.req.ns[0] == ~u128(0));
}

TEST_CASE("fetch request round trip keeps every parameter") {
    FetchParams p{"http://127.0.0.1:1/x", true, 1234, 99, true};
    msgpack::sbuffer buf;
    encode_fetch_request(buf, 9, p);
    auto d = decode(view(buf));
    REQUIRE(d.ok);
    CHECK(d.req.fetch.url == p.url);
    CHECK(d.req.fetch.head);
    CHECK(d.req.fetch.timeout_ms == 1234u);
    CHECK(d.req.fetch.max_bytes == 99u);
    CHECK(d.req.fetch.want_body);
}

TEST_CASE("fetch defaults apply when optional keys are absent") {
    auto buf = build(4, [](Packer& pk) {
        pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(1), pk.pack("op"), pk.pack("fetch");
        pk.pack("url"), pk.pack("https://example.invalid/");
    });
    auto d = decode(view(buf));
    REQUIRE(d.ok);
    CHECK_FALSE(d.req.fetch.head);
    CHECK(d.req.fetch.timeout_ms == kDefaultFetchTimeoutMs);
    CHECK(d.req.fetch.max_bytes == kDefaultMaxBytes);
    CHECK_FALSE(d.req.fetch.want_body);
}

TEST_CASE("unknown keys are ignored") {
    auto buf = build(5, [](Packer& pk) {
        pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(3), pk.pack("op"), pk.pack("echo");
        pk.pack("data"), pk.pack("x"), pk.pack("colour"), pk.pack(std::vector<int>{1, 2});
    });
    auto d = decode(view(buf));
    REQUIRE(d.ok);
    CHECK(d.req.data == "x");
    CHECK(d.req.data_is_str);
}

TEST_CASE("malformed requests give the right code and keep the id when readable") {
    struct Case {
        const char* name;
        msgpack::sbuffer bytes;
        ErrorCode code;
        std::optional<std::uint64_t> id;
    };
    std::vector<Case> cases;
    auto add = [&](const char* name, msgpack::sbuffer b, ErrorCode c,
                   std::optional<std::uint64_t> id) { cases.push_back({name, std::move(b), c, id}); };
    msgpack::sbuffer garbage;
    garbage.write("\xc1\xff\x00garbage", 10);
    add("garbage", std::move(garbage), ErrorCode::bad_request, std::nullopt);
    add("not a map", build(0, [](Packer&) {}), ErrorCode::bad_request, std::nullopt);
    msgpack::sbuffer array;
    Packer(array).pack(std::vector<int>{1});
    add("array", std::move(array), ErrorCode::bad_request, std::nullopt);
    add("wrong version", build(3, [](Packer& pk) {
            pk.pack("v"), pk.pack(2), pk.pack("id"), pk.pack(5), pk.pack("op"), pk.pack("echo");
        }), ErrorCode::unsupported_version, 5);
    add("missing id", build(3, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("op"), pk.pack("echo"), pk.pack("data"), pk.pack("x");
        }), ErrorCode::bad_request, std::nullopt);
    add("negative id", build(3, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(-1), pk.pack("op"), pk.pack("echo");
        }), ErrorCode::bad_request, std::nullopt);
    add("unknown op", build(3, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(6), pk.pack("op"), pk.pack("dance");
        }), ErrorCode::unsupported_op, 6);
    add("op not a string", build(3, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(6), pk.pack("op"), pk.pack(3);
        }), ErrorCode::bad_request, 6);
    add("n = 0", build(4, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(7), pk.pack("op"), pk.pack("factor");
            pk.pack("n"), pk.pack(0);
        }), ErrorCode::bad_request, 7);
    add("n too big", build(4, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(7), pk.pack("op"), pk.pack("factor");
            pk.pack("n"), pk.pack("340282366920938463463374607431768211456");
        }), ErrorCode::bad_request, 7);
    add("n negative", build(4, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(7), pk.pack("op"), pk.pack("factor");
            pk.pack("n"), pk.pack(-5);
        }), ErrorCode::bad_request, 7);
    add("n float", build(4, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(7), pk.pack("op"), pk.pack("factor");
            pk.pack("n"), pk.pack(2.5);
        }), ErrorCode::bad_request, 7);
    add("huge batch", build(4, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(7), pk.pack("op"), pk.pack("factor");
            pk.pack("ns"), pk.pack(std::vector<int>(kMaxBatch + 1, 3));
        }), ErrorCode::too_large, 7);
    add("echo without data", build(3, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(8), pk.pack("op"), pk.pack("echo");
        }), ErrorCode::bad_request, 8);
    add("fetch bad method", build(5, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(9), pk.pack("op"), pk.pack("fetch");
            pk.pack("url"), pk.pack("http://x/"), pk.pack("method"), pk.pack("POST");
        }), ErrorCode::bad_request, 9);
    add("fetch timeout 0", build(5, [](Packer& pk) {
            pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(9), pk.pack("op"), pk.pack("fetch");
            pk.pack("url"), pk.pack("http://x/"), pk.pack("timeout_ms"), pk.pack(0);
        }), ErrorCode::bad_request, 9);
    for (auto& c : cases) {
        CAPTURE(c.name);
        auto d = decode(view(c.bytes));
        CHECK_FALSE(d.ok);
        CHECK(d.err.code == c.code);
        CHECK(d.req.id == c.id);
        CHECK_FALSE(d.err.message.empty());
    }
}

TEST_CASE("truncated and extended messages are rejected, never crash") {
    msgpack::sbuffer buf;
    encode_factor_request(buf, 11, std::vector<u128>{6, 35}, true);
    std::string bytes(buf.data(), buf.size());
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) CHECK_FALSE(decode(bytes.substr(0, cut)).ok);
    CHECK_FALSE(decode(bytes + "x").ok);
    std::mt19937 rng(5);
    for (int i = 0; i < 20000; ++i) {
        std::string noisy = bytes;
        noisy[rng() % noisy.size()] = static_cast<char>(rng());
        (void)decode(noisy); // must not crash or hang; ASan/UBSan builds check the rest
    }
}

TEST_CASE("replies decode back to what was encoded") {
    ReplyDecoder decoder;
    Reply r;
    std::string err;
    msgpack::sbuffer buf;

    encode_error(buf, {std::nullopt, "s1", 17}, ErrorCode::overloaded, "busy");
    REQUIRE(decoder.decode(view(buf), r, err));
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.id);
    CHECK(r.server == "s1");
    CHECK(r.service_us == 17u);
    CHECK(r.error_code == "overloaded");
    CHECK(r.error_message == "busy");

    std::vector<u128> factors{2, 3, 3, ~u128(0) - 158};
    std::vector<std::uint32_t> sizes{3, 1};
    encode_factors(buf, {5, "s2", 1}, factors, sizes, true);
    REQUIRE(decoder.decode(view(buf), r, err));
    CHECK(r.ok);
    CHECK(r.id == 5u);
    CHECK(r.factors == factors);
    CHECK(r.factor_sizes == sizes);

    encode_factors(buf, {6, "s2", 1}, std::span(factors).first(3), std::vector<std::uint32_t>{3},
                   false);
    REQUIRE(decoder.decode(view(buf), r, err));
    CHECK(r.factor_sizes == std::vector<std::uint32_t>{3});

    FetchResult f{404, 12, 999, "text/plain", std::string_view("not found\n")};
    encode_fetch(buf, {7, "s3", 2}, f);
    REQUIRE(decoder.decode(view(buf), r, err));
    CHECK(r.status == 404);
    CHECK(r.bytes == 12u);
    CHECK(r.elapsed_us == 999u);
    CHECK(r.content_type == "text/plain");
    REQUIRE(r.body);
    CHECK(*r.body == "not found\n");

    encode_echo(buf, {8, "s4", 3}, "abc", true);
    REQUIRE(decoder.decode(view(buf), r, err));
    CHECK(r.data == "abc");
}

TEST_CASE("reply decoder rejects replies that break the protocol") {
    ReplyDecoder decoder;
    Reply r;
    std::string err;
    auto no_ok = build(2, [](Packer& pk) { pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(1); });
    CHECK_FALSE(decoder.decode(view(no_ok), r, err));
    CHECK_FALSE(err.empty());
    auto v2 = build(3, [](Packer& pk) {
        pk.pack("v"), pk.pack(2), pk.pack("id"), pk.pack(1), pk.pack("ok"), pk.pack(true);
    });
    CHECK_FALSE(decoder.decode(view(v2), r, err));
    auto bad_error = build(3, [](Packer& pk) {
        pk.pack("v"), pk.pack(1), pk.pack("id"), pk.pack(1), pk.pack("ok"), pk.pack(false);
    });
    CHECK_FALSE(decoder.decode(view(bad_error), r, err));
}

TEST_CASE("op and error code names round trip") {
    for (auto op : {Op::echo, Op::factor, Op::fetch}) CHECK(parse_op(to_string(op)) == op);
    for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
        auto c = static_cast<ErrorCode>(i);
        CHECK(parse_error_code(to_string(c)) == c);
    }
    CHECK_FALSE(parse_op("nope"));
}

// The hand-written flat-map reader must build exactly what msgpack-c builds, or leave the
// message to msgpack-c: random flat maps of every scalar encoding, cut and extended.
namespace {

bool same_object(const msgpack::object& a, const msgpack::object& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
    case msgpack::type::NIL: return true;
    case msgpack::type::BOOLEAN: return a.via.boolean == b.via.boolean;
    case msgpack::type::POSITIVE_INTEGER: return a.via.u64 == b.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return a.via.i64 == b.via.i64;
    case msgpack::type::STR:
    case msgpack::type::BIN:
        return std::string_view(a.via.str.ptr, a.via.str.size) ==
               std::string_view(b.via.str.ptr, b.via.str.size);
    case msgpack::type::MAP:
        if (a.via.map.size != b.via.map.size) return false;
        for (std::uint32_t i = 0; i < a.via.map.size; ++i)
            if (!same_object(a.via.map.ptr[i].key, b.via.map.ptr[i].key) ||
                !same_object(a.via.map.ptr[i].val, b.via.map.ptr[i].val))
                return false;
        return true;
    default: return a == b;
    }
}

void scalar_pack(Packer& pk, std::mt19937_64& rng) {
    std::string text(rng() % 3 == 0 ? rng() % 300 : rng() % 40, 'x');
    std::int64_t sv = static_cast<std::int64_t>(rng()) >> (rng() % 64);
    std::uint64_t uv = rng() >> (rng() % 64);
    switch (rng() % 14) {
    case 0: pk.pack_nil(); break;
    case 1: pk.pack(rng() % 2 == 0); break;
    case 2: pk.pack_uint64(uv); break;
    case 3: pk.pack_int64(sv); break;
    case 4: pk.pack_fix_int8(static_cast<std::int8_t>(sv)); break;
    case 5: pk.pack_fix_int16(static_cast<std::int16_t>(sv)); break;
    case 6: pk.pack_fix_int32(static_cast<std::int32_t>(sv)); break;
    case 7: pk.pack_fix_int64(sv); break;
    case 8: pk.pack_fix_uint16(static_cast<std::uint16_t>(uv)); break;
    case 9: pk.pack_fix_uint64(uv); break;
    case 10: pk.pack_str(static_cast<std::uint32_t>(text.size())); pk.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size())); break;
    case 11: pk.pack_bin(static_cast<std::uint32_t>(text.size())); pk.pack_bin_body(text.data(), static_cast<std::uint32_t>(text.size())); break;
    case 12: pk.pack_double(1.5); break; // not flat: the full parser takes it
    default: pk.pack_array(1); pk.pack_uint8(1); break; // not flat either
    }
}

} // namespace

TEST_CASE("the flat-map fast path agrees with msgpack-c on every input") {
    std::mt19937_64 rng(12);
    msgpack::zone za, zb;
    for (int round = 0; round < 20000; ++round) {
        msgpack::sbuffer buf;
        Packer pk(buf);
        std::uint32_t n = static_cast<std::uint32_t>(rng() % 20);
        pk.pack_map(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            scalar_pack(pk, rng);
            scalar_pack(pk, rng);
        }
        std::string msg(buf.data(), buf.size());
        if (round % 3 == 1 && !msg.empty()) msg.resize(rng() % msg.size()); // cut short
        if (round % 7 == 2) msg.push_back('\x01');                          // trailing byte
        msgpack::object a, b;
        const char* ea = detail::parse_root(za, msg, a);
        const char* eb = detail::parse_root_full(zb, msg, b);
        CAPTURE(round);
        REQUIRE((ea == nullptr) == (eb == nullptr));
        if (ea) CHECK(std::string_view(ea) == std::string_view(eb));
        else CHECK(same_object(a, b));
    }
}

TEST_CASE("hand-written echo encoders write the packer's bytes") {
    for (std::size_t size : {0u, 16u, 31u, 32u, 255u, 256u, 70000u}) {
        std::string data(size, 'd');
        for (std::uint64_t id : {0ull, 127ull, 128ull, 65536ull, 1ull << 40}) {
            for (bool is_str : {false, true}) {
                msgpack::sbuffer fast, slow;
                const std::string server(size % 40 + 1, 's');
                ReplyHeader h{id, server, id * 3};
                encode_echo(fast, h, data, is_str);
                Packer pk(slow);
                encode_reply_begin(pk, h, true, 1);
                pack_str(pk, "data");
                if (is_str) pack_str(pk, data);
                else {
                    pk.pack_bin(static_cast<std::uint32_t>(data.size()));
                    pk.pack_bin_body(data.data(), static_cast<std::uint32_t>(data.size()));
                }
                CHECK(view(fast) == view(slow));
                // Into memory sized beforehand: exactly as many bytes, the same ones.
                const std::size_t n = echo_reply_bytes(h, data, is_str);
                std::string sized(n + 1, '#');
                echo_reply_write(sized.data(), h, data, is_str);
                CHECK(sized.back() == '#'); // not a byte past what was counted
                sized.pop_back();
                CHECK(sized == view(slow));
            }
            msgpack::sbuffer req, req_deadline;
            encode_echo_request(req, id, data);
            encode_echo_request(req_deadline, id, data, 300u);
            for (auto* b : {&req, &req_deadline}) {
                RequestDecoder d;
                Request r;
                DecodeError e;
                REQUIRE(d.decode(view(*b), r, e));
                CHECK(r.id == id);
                CHECK(r.op == Op::echo);
                CHECK(r.data == data);
                CHECK(r.deadline_ms == (b == &req ? std::nullopt : std::optional<std::uint32_t>(300)));
            }
        }
    }
    // A nil id (a refusal) is packed as nil.
    msgpack::sbuffer fast, slow;
    encode_echo(fast, {std::nullopt, "s", 1}, "x", false);
    Packer pk(slow);
    encode_reply_begin(pk, {std::nullopt, "s", 1}, true, 1);
    pack_str(pk, "data");
    pk.pack_bin(1);
    pk.pack_bin_body("x", 1);
    CHECK(view(fast) == view(slow));
    std::string sized(echo_reply_bytes({std::nullopt, "s", 1}, "x", false), '#');
    echo_reply_write(sized.data(), {std::nullopt, "s", 1}, "x", false);
    CHECK(sized == view(slow));
}
