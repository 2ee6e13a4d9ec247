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
// the same bytes msgpack-c's packer writes (smallest encoding of each value). Bytes
// composes them in a small buffer appended to an sbuffer in one write instead of a dozen
// packer calls. The reply's layout is written once, as a template over its writer, for
// two more: Counter counts its bytes, and Writer writes them into memory of that size (a
// zmq message, so the server's reply is never copied).
template <class Out>
class Packing {
public:
    void uint(std::uint64_t v) {
        if (v < 128) out().byte(static_cast<unsigned>(v));
        else if (v <= 0xff) { out().byte(0xcc); out().be(v, 1); }
        else if (v <= 0xffff) { out().byte(0xcd); out().be(v, 2); }
        else if (v <= 0xffffffff) { out().byte(0xce); out().be(v, 4); }
        else { out().byte(0xcf); out().be(v, 8); }
    }
    // A fixstr key or short literal.
    void key(std::string_view k) {
        out().byte(0xa0 | static_cast<unsigned>(k.size()));
        out().raw(k.data(), k.size());
    }
    void str_head(std::size_t n) {
        if (n < 32) out().byte(0xa0 | static_cast<unsigned>(n));
        else if (n <= 0xff) { out().byte(0xd9); out().be(n, 1); }
        else if (n <= 0xffff) { out().byte(0xda); out().be(n, 2); }
        else { out().byte(0xdb); out().be(n, 4); }
    }
    void bin_head(std::size_t n) {
        if (n <= 0xff) { out().byte(0xc4); out().be(n, 1); }
        else if (n <= 0xffff) { out().byte(0xc5); out().be(n, 2); }
        else { out().byte(0xc6); out().be(n, 4); }
    }

private:
    Out& out() { return static_cast<Out&>(*this); }
};

class Counter : public Packing<Counter> {
public:
    void byte(unsigned) { ++n_; }
    void be(std::uint64_t, unsigned n) { n_ += n; }
    void raw(const void*, std::size_t n) { n_ += n; }
    void part(std::string_view s) { n_ += s.size(); }
    std::size_t bytes() const { return n_; }

private:
    std::size_t n_ = 0;
};

class Writer : public Packing<Writer> {
public:
    explicit Writer(char* at) : at_(at) {}
    void raw(const void* p, std::size_t n) {
        std::memcpy(at_, p, n);
        at_ += n;
    }
    void byte(unsigned b) { *at_++ = static_cast<char>(b); }
    // A big-endian unsigned of n (1, 2, 4 or 8) bytes: a byte swap and one store.
    void be(std::uint64_t v, unsigned n) {
        switch (n) {
        case 1: byte(static_cast<unsigned>(v)); return;
        case 2: store(__builtin_bswap16(static_cast<std::uint16_t>(v))); return;
        case 4: store(__builtin_bswap32(static_cast<std::uint32_t>(v))); return;
        default: store(__builtin_bswap64(v)); return;
        }
    }
    // A variable part (a name, echo data).
    void part(std::string_view s) { raw(s.data(), s.size()); }

protected:
    template <class Word>
    void store(Word w) {
        std::memcpy(at_, &w, sizeof w);
        at_ += sizeof w;
    }

    char* at_;
};

class Bytes : public Writer {
public:
    explicit Bytes(msgpack::sbuffer& buf) : Writer(data_), buf_(buf) { buf_.clear(); }
    void flush() {
        buf_.write(data_, static_cast<std::size_t>(at_ - data_));
        at_ = data_;
    }
    // A variable part: composed here too while it fits beside what is left to write
    // (kFixedTail), so a small message is one write into buf; a large part goes in
    // directly, after what is composed so far.
    void part(std::string_view s) {
        const auto room = static_cast<std::size_t>(data_ + kRoom - at_);
        if (room >= kFixedTail && s.size() <= room - kFixedTail) {
            raw(s.data(), s.size());
            return;
        }
        flush();
        buf_.write(s.data(), s.size());
    }
    // Room enough for every fixed field and the heads, and small variable parts.
    static constexpr std::size_t kRoom = 256;
    // The most a layout writes after its first variable part: "service_us", a uint
    // 64 and "data" with a bin 32 head, with their heads.
    static constexpr std::size_t kFixedTail = 32;

private:
    msgpack::sbuffer& buf_;
    char data_[kRoom];
};

// The same map encode_reply_begin + "data" would pack.
template <class W>
void echo_reply_layout(W& w, const ReplyHeader& h, std::string_view data, bool data_is_str) {
    w.byte(0x86);
    w.key("v");
    w.uint(kVersion);
    w.key("id");
    if (h.id) w.uint(*h.id);
    else w.byte(0xc0);
    w.key("ok");
    w.byte(0xc3);
    w.key("server");
    w.str_head(h.server.size());
    w.part(h.server);
    w.key("service_us");
    w.uint(h.service_us);
    w.key("data");
    if (data_is_str) w.str_head(data.size());
    else w.bin_head(data.size());
    w.part(data);
}

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

void encode_echo(msgpack::sbuffer& buf, const ReplyHeader& h, std::string_view data,
                 bool data_is_str) {
    Bytes b(buf);
    echo_reply_layout(b, h, data, data_is_str);
    b.flush();
}

std::size_t echo_reply_bytes(const ReplyHeader& h, std::string_view data, bool data_is_str) {
    Counter c;
    echo_reply_layout(c, h, data, data_is_str);
    return c.bytes();
}

void echo_reply_write(char* out, const ReplyHeader& h, std::string_view data, bool data_is_str) {
    Writer w(out);
    echo_reply_layout(w, h, data, data_is_str);
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
    Bytes b(buf);
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
    b.part(data);
    b.flush();
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
