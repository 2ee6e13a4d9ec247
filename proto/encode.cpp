// Request and reply encoding. msgpack maps need their size up front, so each
// encoder counts its fields before packing.
#include "proto/codec.hpp"
#include "proto/msgpack_view.hpp"

#include <cstring>

namespace zlb::proto {
namespace {

void pack_bin(Packer& pk, std::string_view s) {
    pk.pack_bin(static_cast<std::uint32_t>(s.size()));
    pk.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

// Numbers that fit 64 bits travel as integers, larger ones as decimal strings.
void pack_u128(Packer& pk, u128 n) {
    if (n <= UINT64_MAX) pk.pack_uint64(static_cast<std::uint64_t>(n));
    else pack_str(pk, to_string_u128(n));
}

void begin_request(Packer& pk, std::uint64_t id, Op op, std::uint32_t extra,
                   std::optional<std::uint32_t> deadline_ms) {
    pk.pack_map(3 + extra + (deadline_ms ? 1 : 0));
    pack_str(pk, "v");
    pk.pack_uint64(kVersion);
    pack_str(pk, "id");
    pk.pack_uint64(id);
    pack_str(pk, "op");
    pack_str(pk, to_string(op));
    if (deadline_ms) {
        pack_str(pk, "deadline_ms");
        pk.pack_uint32(*deadline_ms);
    }
}

// Hand-written msgpack for the hot path's fixed shapes (an echo request, an echo reply):
// the same bytes msgpack-c's packer writes (smallest encoding of each value), composed in
// one small buffer and appended in one write instead of a dozen packer calls.
class Bytes {
public:
    void raw(const void* p, std::size_t n) {
        std::memcpy(at_, p, n);
        at_ += n;
    }
    void byte(unsigned b) { *at_++ = static_cast<char>(b); }
    void be(std::uint64_t v, unsigned n) {
        for (unsigned i = n; i-- > 0;) byte(static_cast<unsigned>((v >> (8 * i)) & 0xff));
    }
    void uint(std::uint64_t v) {
        if (v < 128) byte(static_cast<unsigned>(v));
        else if (v <= 0xff) { byte(0xcc); be(v, 1); }
        else if (v <= 0xffff) { byte(0xcd); be(v, 2); }
        else if (v <= 0xffffffff) { byte(0xce); be(v, 4); }
        else { byte(0xcf); be(v, 8); }
    }
    // A fixstr key or short literal.
    void key(std::string_view k) {
        byte(0xa0 | static_cast<unsigned>(k.size()));
        raw(k.data(), k.size());
    }
    void str_head(std::size_t n) {
        if (n < 32) byte(0xa0 | static_cast<unsigned>(n));
        else if (n <= 0xff) { byte(0xd9); be(n, 1); }
        else if (n <= 0xffff) { byte(0xda); be(n, 2); }
        else { byte(0xdb); be(n, 4); }
    }
    void bin_head(std::size_t n) {
        if (n <= 0xff) { byte(0xc4); be(n, 1); }
        else if (n <= 0xffff) { byte(0xc5); be(n, 2); }
        else { byte(0xc6); be(n, 4); }
    }
    void flush(msgpack::sbuffer& buf) {
        buf.write(data_, static_cast<std::size_t>(at_ - data_));
        at_ = data_;
    }
    // A variable part (a name, echo data): composed here too while it fits beside what
    // is left to write (kFixedTail), so a small message is one write into buf; a large
    // part goes in directly, after what is composed so far.
    void part(msgpack::sbuffer& buf, std::string_view s) {
        const auto room = static_cast<std::size_t>(data_ + kRoom - at_);
        if (room >= kFixedTail && s.size() <= room - kFixedTail) {
            raw(s.data(), s.size());
            return;
        }
        flush(buf);
        buf.write(s.data(), s.size());
    }
    // Room enough for every fixed field and the heads, and small variable parts.
    static constexpr std::size_t kRoom = 256;
    // The most a layout writes after its first variable part: "service_us", a uint
    // 64 and "data" with a bin 32 head, with their heads.
    static constexpr std::size_t kFixedTail = 32;

private:
    char data_[kRoom];
    char* at_ = data_;
};

} // namespace

void encode_reply_begin(Packer& pk, const ReplyHeader& h, bool ok, std::uint32_t extra) {
    pk.pack_map(5 + extra);
    pack_str(pk, "v");
    pk.pack_uint64(kVersion);
    pack_str(pk, "id");
    if (h.id) pk.pack_uint64(*h.id);
    else pk.pack_nil();
    pack_str(pk, "ok");
    pk.pack(ok);
    pack_str(pk, "server");
    pack_str(pk, h.server);
    pack_str(pk, "service_us");
    pk.pack_uint64(h.service_us);
}

void pack_str(Packer& pk, std::string_view s) {
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void encode_error(msgpack::sbuffer& buf, const ReplyHeader& h, ErrorCode code,
                  std::string_view message) {
    buf.clear();
    Packer pk(buf);
    encode_reply_begin(pk, h, false, 1);
    pack_str(pk, "error");
    pk.pack_map(2);
    pack_str(pk, "code");
    pack_str(pk, to_string(code));
    pack_str(pk, "message");
    pack_str(pk, message);
}

// The same map encode_reply_begin + "data" would pack, by hand (see Bytes).
void encode_echo(msgpack::sbuffer& buf, const ReplyHeader& h, std::string_view data,
                 bool data_is_str) {
    buf.clear();
    Bytes b;
    b.byte(0x86);
    b.key("v");
    b.uint(kVersion);
    b.key("id");
    if (h.id) b.uint(*h.id);
    else b.byte(0xc0);
    b.key("ok");
    b.byte(0xc3);
    b.key("server");
    b.str_head(h.server.size());
    b.part(buf, h.server);
    b.key("service_us");
    b.uint(h.service_us);
    b.key("data");
    if (data_is_str) b.str_head(data.size());
    else b.bin_head(data.size());
    b.part(buf, data);
    b.flush(buf);
}

void encode_factors(msgpack::sbuffer& buf, const ReplyHeader& h, std::span<const u128> factors,
                    std::span<const std::uint32_t> sizes, bool batch) {
    buf.clear();
    Packer pk(buf);
    encode_reply_begin(pk, h, true, 1);
    pack_str(pk, "factors");
    if (batch) pk.pack_array(static_cast<std::uint32_t>(sizes.size()));
    std::size_t at = 0;
    for (std::uint32_t size : sizes) {
        pk.pack_array(size);
        for (std::uint32_t i = 0; i < size; ++i) pack_u128(pk, factors[at++]);
    }
}

void encode_fetch(msgpack::sbuffer& buf, const ReplyHeader& h, const FetchResult& r) {
    buf.clear();
    Packer pk(buf);
    encode_reply_begin(pk, h, true, 4 + (r.body ? 1 : 0));
    pack_str(pk, "status");
    pk.pack_int64(r.status);
    pack_str(pk, "bytes");
    pk.pack_uint64(r.bytes);
    pack_str(pk, "elapsed_us");
    pk.pack_uint64(r.elapsed_us);
    pack_str(pk, "content_type");
    pack_str(pk, r.content_type);
    if (r.body) {
        pack_str(pk, "body");
        pack_bin(pk, *r.body);
    }
}

// The same map begin_request + "data" would pack, by hand (see Bytes).
void encode_echo_request(msgpack::sbuffer& buf, std::uint64_t id, std::string_view data,
                         std::optional<std::uint32_t> deadline_ms) {
    buf.clear();
    Bytes b;
    b.byte(deadline_ms ? 0x85 : 0x84);
    b.key("v");
    b.uint(kVersion);
    b.key("id");
    b.uint(id);
    b.key("op");
    b.key(to_string(Op::echo));
    if (deadline_ms) {
        b.key("deadline_ms");
        b.uint(*deadline_ms);
    }
    b.key("data");
    b.bin_head(data.size());
    b.part(buf, data);
    b.flush(buf);
}

void encode_factor_request(msgpack::sbuffer& buf, std::uint64_t id, std::span<const u128> ns,
                           bool batch, std::optional<std::uint32_t> deadline_ms) {
    buf.clear();
    Packer pk(buf);
    begin_request(pk, id, Op::factor, 1, deadline_ms);
    pack_str(pk, batch ? "ns" : "n");
    if (batch) pk.pack_array(static_cast<std::uint32_t>(ns.size()));
    for (u128 n : ns) pack_u128(pk, n);
}

void encode_fetch_request(msgpack::sbuffer& buf, std::uint64_t id, const FetchParams& p,
                          std::optional<std::uint32_t> deadline_ms) {
    buf.clear();
    Packer pk(buf);
    begin_request(pk, id, Op::fetch, 5, deadline_ms);
    pack_str(pk, "url");
    pack_str(pk, p.url);
    pack_str(pk, "method");
    pack_str(pk, p.head ? "HEAD" : "GET");
    pack_str(pk, "timeout_ms");
    pk.pack_uint32(p.timeout_ms);
    pack_str(pk, "max_bytes");
    pk.pack_uint64(p.max_bytes);
    pack_str(pk, "want_body");
    pk.pack(p.want_body);
}

void encode_status_request(msgpack::sbuffer& buf, std::uint64_t id) {
    buf.clear();
    Packer pk(buf);
    begin_request(pk, id, Op::status, 0, std::nullopt);
}

bool request_deadline_set(std::string_view request, std::uint32_t deadline_ms,
                          msgpack::sbuffer& buf) {
    msgpack::zone zone;
    msgpack::object root;
    if (detail::parse_root(zone, request, root) || root.type != msgpack::type::MAP) return false;
    const auto& map = root.via.map;
    auto is_deadline = [](const msgpack::object& key) {
        return key.type == msgpack::type::STR &&
               std::string_view(key.via.str.ptr, key.via.str.size) == "deadline_ms";
    };
    std::uint32_t kept = 0;
    for (std::uint32_t i = 0; i < map.size; ++i) kept += !is_deadline(map.ptr[i].key);
    buf.clear();
    Packer pk(buf);
    pk.pack_map(kept + 1);
    for (std::uint32_t i = 0; i < map.size; ++i) {
        if (is_deadline(map.ptr[i].key)) continue;
        pk.pack(map.ptr[i].key);
        pk.pack(map.ptr[i].val);
    }
    pack_str(pk, "deadline_ms");
    pk.pack_uint32(deadline_ms);
    return true;
}

} // namespace zlb::proto
