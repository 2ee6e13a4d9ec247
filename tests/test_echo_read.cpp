// The echo pattern readers (proto/echo_read.hpp) against the general decoders: on zlb's
// own echo messages the pattern must be taken, and on those messages cut, extended,
// reordered or with any one byte changed the decoders must answer exactly what
// decode_full answers.
#include "proto/codec.hpp"
#include "proto/echo_read.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using namespace zlb;
using namespace zlb::proto;

namespace {

// A view of the buffer itself: what a reader returns points into it.
std::string_view bytes_of(const msgpack::sbuffer& b) { return {b.data(), b.size()}; }

void same_request(std::string_view message) {
    RequestDecoder a, b;
    Request ra, rb;
    DecodeError ea, eb;
    const bool ok_a = a.decode(message, ra, ea);
    const bool ok_b = b.decode_full(message, rb, eb);
    REQUIRE(ok_a == ok_b);
    CHECK(ra.id == rb.id);
    if (!ok_a) {
        CHECK(ea.code == eb.code);
        CHECK(ea.message == eb.message);
        return;
    }
    CHECK(ra.op == rb.op);
    CHECK(ra.deadline_ms == rb.deadline_ms);
    CHECK(ra.data == rb.data);
    CHECK(ra.data_is_str == rb.data_is_str);
    CHECK(ra.ns == rb.ns);
    CHECK(ra.batch == rb.batch);
    CHECK(ra.fetch.url == rb.fetch.url);
}

void same_reply(std::string_view message) {
    ReplyDecoder a, b;
    Reply ra, rb;
    std::string ea, eb;
    const bool ok_a = a.decode(message, ra, ea);
    const bool ok_b = b.decode_full(message, rb, eb);
    REQUIRE(ok_a == ok_b);
    CHECK(ea == eb);
    CHECK(ra.id == rb.id);
    CHECK(ra.ok == rb.ok);
    CHECK(ra.server == rb.server);
    CHECK(ra.service_us == rb.service_us);
    CHECK(ra.data == rb.data);
    CHECK(ra.error_code == rb.error_code);
    CHECK(ra.status == rb.status);
    CHECK(ra.factors == rb.factors);
}

// Every one-byte change, every cut and a trailing byte of message, each held to
// decode_full by check.
template <class Check>
void mutations_check(std::string_view original, std::mt19937_64& rng, Check check) {
    const std::string message(original);
    for (std::size_t at = 0; at < message.size(); ++at) {
        for (unsigned delta : {1u, 0x10u, 0x80u, static_cast<unsigned>(rng() % 255 + 1)}) {
            std::string m = message;
            m[at] = static_cast<char>(static_cast<unsigned char>(m[at]) ^ delta);
            check(m);
        }
        check(message.substr(0, at));
    }
    check(message + '\x00');
    check(message + message);
}

const std::vector<std::uint64_t> kIds{0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffULL,
                                      1ULL << 32, ~0ULL};
const std::vector<std::size_t> kSizes{0, 1, 16, 31, 32, 255, 256, 65535, 65536};

} // namespace

TEST_CASE("zlb's echo requests take the pattern, and read as decode_full reads them") {
    for (std::uint64_t id : kIds)
        for (std::size_t size : kSizes)
            for (bool with_deadline : {false, true}) {
                const std::string data(size, static_cast<char>('a' + size % 26));
                msgpack::sbuffer buf;
                std::optional<std::uint32_t> deadline;
                if (with_deadline) deadline = static_cast<std::uint32_t>(id);
                encode_echo_request(buf, id, data, deadline);
                Request r;
                CAPTURE(id);
                CAPTURE(size);
                REQUIRE(detail::echo_request_read(bytes_of(buf), r));
                CHECK(r.id == id);
                CHECK(r.data == data);
                CHECK(r.deadline_ms == deadline);
                same_request(bytes_of(buf));
            }
}

TEST_CASE("zlb's echo replies take the pattern, and read as decode_full reads them") {
    for (std::uint64_t id : kIds)
        for (std::size_t size : kSizes)
            for (bool is_str : {false, true}) {
                const std::string data(size, 'd');
                const std::string server(size % 40 + 1, 's');
                msgpack::sbuffer buf;
                encode_echo(buf, ReplyHeader{id, server, id / 3}, data, is_str);
                Reply r;
                CAPTURE(id);
                CAPTURE(size);
                REQUIRE(detail::echo_reply_read(bytes_of(buf), r));
                CHECK(r.id == id);
                CHECK(r.server == server);
                CHECK(r.service_us == id / 3);
                CHECK(r.data == data);
                same_reply(bytes_of(buf));
            }
}

TEST_CASE("a changed, cut or extended echo message is decoded as decode_full decodes it") {
    std::mt19937_64 rng(6);
    for (std::uint64_t id : {5ULL, 300ULL, 1ULL << 40}) {
        for (std::size_t size : {0u, 3u, 40u}) {
            const std::string data(size, 'x');
            msgpack::sbuffer req, req_deadline, reply, reply_str;
            encode_echo_request(req, id, data);
            encode_echo_request(req_deadline, id, data, 70000);
            encode_echo(reply, ReplyHeader{id, "srv", 12}, data, false);
            encode_echo(reply_str, ReplyHeader{id, "srv", 12}, data, true);
            for (const auto* b : {&req, &req_deadline})
                mutations_check(bytes_of(*b), rng, [](const std::string& m) { same_request(m); });
            for (const auto* b : {&reply, &reply_str})
                mutations_check(bytes_of(*b), rng, [](const std::string& m) { same_reply(m); });
        }
    }
}

TEST_CASE("other layouts of the same echo are declined by the pattern, and still decoded") {
    // Keys in another order, as another client's packer may write them.
    msgpack::sbuffer reordered;
    {
        Packer pk(reordered);
        pk.pack_map(4);
        pack_str(pk, "op");
        pack_str(pk, "echo");
        pack_str(pk, "id");
        pk.pack_uint64(9);
        pack_str(pk, "v");
        pk.pack_uint64(1);
        pack_str(pk, "data");
        pack_str(pk, "hi");
    }
    // The id as a uint 64 although it fits a fixint; a duplicate data key (the first counts).
    msgpack::sbuffer wide, duplicate;
    {
        Packer pk(wide);
        pk.pack_map(4);
        pack_str(pk, "v");
        pk.pack_uint64(1);
        pack_str(pk, "id");
        pk.pack_fix_uint64(9);
        pack_str(pk, "op");
        pack_str(pk, "echo");
        pack_str(pk, "data");
        pack_str(pk, "hi");
    }
    {
        Packer pk(duplicate);
        pk.pack_map(5);
        pack_str(pk, "v");
        pk.pack_uint64(1);
        pack_str(pk, "id");
        pk.pack_uint64(9);
        pack_str(pk, "op");
        pack_str(pk, "echo");
        pack_str(pk, "data");
        pack_str(pk, "first");
        pack_str(pk, "data");
        pack_str(pk, "second");
    }
    for (const auto* b : {&reordered, &wide, &duplicate}) {
        Request r;
        // A wider integer is still the layout (the pattern reads any uint width).
        CHECK(detail::echo_request_read(bytes_of(*b), r) == (b == &wide));
        same_request(bytes_of(*b));
        RequestDecoder d;
        DecodeError e;
        REQUIRE(d.decode(bytes_of(*b), r, e));
        CHECK(r.id == 9u);
        CHECK(r.data == (b == &duplicate ? "first" : "hi"));
    }
    // A nil id in a reply (the reply to a request that had none) goes to decode_full.
    msgpack::sbuffer nil_id;
    encode_echo(nil_id, ReplyHeader{std::nullopt, "srv", 1}, "x", false);
    Reply r;
    CHECK_FALSE(detail::echo_reply_read(bytes_of(nil_id), r));
    same_reply(bytes_of(nil_id));
}
