// Pattern readers for the echo request and reply (see echo_read.hpp). Each walks the
// message once, front to back, matching the fixed bytes (map head, keys, constants) and
// reading the few variable ones (id, service_us, deadline, the server name, the data); the
// first byte that differs from the layout declines, and the general decoder reads the
// message instead.
#include "proto/echo_read.hpp"

#include <cstdint>
#include <cstring>

namespace zlb::proto::detail {
namespace {

class Cursor {
public:
    explicit Cursor(std::string_view m)
        : p_(reinterpret_cast<const unsigned char*>(m.data())), end_(p_ + m.size()) {}

    // The literal's bytes, its terminating NUL not included. Compared 8, 4, 2 and 1 bytes
    // at a time: the length is known when compiling, so this unrolls into a few loads,
    // where memcmp is a call (the literals are 1 to 12 bytes).
    template <std::size_t N>
    [[gnu::always_inline]] bool lit(const char (&s)[N]) {
        constexpr std::size_t n = N - 1;
        if (left() < n) return false;
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8)
            if (!same<std::uint64_t>(s + i, i)) return false;
        if (i + 4 <= n) {
            if (!same<std::uint32_t>(s + i, i)) return false;
            i += 4;
        }
        if (i + 2 <= n) {
            if (!same<std::uint16_t>(s + i, i)) return false;
            i += 2;
        }
        if (i < n && p_[i] != static_cast<unsigned char>(s[i])) return false;
        p_ += n;
        return true;
    }
    // An unsigned integer as the packers write it: fixint, or uint 8/16/32/64.
    [[gnu::always_inline]] bool uint(std::uint64_t& v) {
        if (left() < 1) return false;
        const unsigned b = *p_;
        if (b <= 0x7f) {
            v = b;
            ++p_;
            return true;
        }
        if (b < 0xcc || b > 0xcf) return false;
        return be(std::size_t{1} << (b - 0xcc), 1, v);
    }
    // A str (fixstr, str 8/16/32) or a bin (bin 8/16/32): is_str says which it was.
    [[gnu::always_inline]] bool text(std::string_view& out, bool& is_str) {
        if (left() < 1) return false;
        const unsigned b = *p_;
        std::uint64_t len = 0;
        if (b >= 0xa0 && b <= 0xbf) {
            len = b & 0x1f;
            ++p_;
            is_str = true;
        } else if (b >= 0xd9 && b <= 0xdb) {
            if (!be(std::size_t{1} << (b - 0xd9), 1, len)) return false;
            is_str = true;
        } else if (b >= 0xc4 && b <= 0xc6) {
            if (!be(std::size_t{1} << (b - 0xc4), 1, len)) return false;
            is_str = false;
        } else {
            return false;
        }
        if (left() < len) return false;
        out = {reinterpret_cast<const char*>(p_), static_cast<std::size_t>(len)};
        p_ += len;
        return true;
    }
    bool at_end() const { return p_ == end_; }

private:
    template <class Word>
    bool same(const char* expected, std::size_t at) const {
        return load<Word>(p_ + at) == load<Word>(expected);
    }
    std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
    // A big-endian unsigned of n (1, 2, 4 or 8) bytes after a head of skip bytes: one
    // load and a byte swap, not a loop.
    bool be(std::size_t n, std::size_t skip, std::uint64_t& v) {
        if (left() < skip + n) return false;
        const unsigned char* q = p_ + skip;
        switch (n) {
        case 1: v = *q; break;
        case 2: v = __builtin_bswap16(load<std::uint16_t>(q)); break;
        case 4: v = __builtin_bswap32(load<std::uint32_t>(q)); break;
        default: v = __builtin_bswap64(load<std::uint64_t>(q)); break;
        }
        p_ = q + n;
        return true;
    }
    template <class Word>
    static Word load(const void* at) {
        Word w;
        std::memcpy(&w, at, sizeof w);
        return w;
    }

    const unsigned char* p_;
    const unsigned char* end_;
};

// Keys and constants of the two layouts (a fixstr key is its 0xa0|length byte and its
// name). Split literals: a hex escape would swallow a key's first letter otherwise.
constexpr char kVersionOne[] = "\xa1" "v" "\x01";
constexpr char kId[] = "\xa2" "id";
constexpr char kOpEcho[] = "\xa2" "op" "\xa4" "echo";
constexpr char kDeadline[] = "\xab" "deadline_ms";
constexpr char kData[] = "\xa4" "data";
constexpr char kOkTrue[] = "\xa2" "ok" "\xc3";
constexpr char kServer[] = "\xa6" "server";
constexpr char kServiceUs[] = "\xaa" "service_us";
static_assert(kVersion == 1, "kVersionOne spells protocol v1");

} // namespace

// {"v": 1, "id": ID, "op": "echo", ["deadline_ms": D,] "data": DATA}
bool echo_request_read(std::string_view message, Request& out) {
    Cursor c(message);
    const bool with_deadline = c.lit("\x85");
    if (!with_deadline && !c.lit("\x84")) return false;
    std::uint64_t id = 0, deadline = 0;
    std::string_view data;
    bool is_str = false;
    if (!c.lit(kVersionOne) || !c.lit(kId) || !c.uint(id) || !c.lit(kOpEcho)) return false;
    if (with_deadline && (!c.lit(kDeadline) || !c.uint(deadline) || deadline > UINT32_MAX))
        return false;
    if (!c.lit(kData) || !c.text(data, is_str) || !c.at_end()) return false;
    out.id = id;
    out.op = Op::echo;
    if (with_deadline) out.deadline_ms = static_cast<std::uint32_t>(deadline);
    out.data = data;
    out.data_is_str = is_str;
    return true;
}

// {"v": 1, "id": ID, "ok": true, "server": NAME, "service_us": US, "data": DATA}
bool echo_reply_read(std::string_view message, Reply& out) {
    Cursor c(message);
    std::uint64_t id = 0, service_us = 0;
    std::string_view server, data;
    bool is_str = false;
    if (!c.lit("\x86") || !c.lit(kVersionOne) || !c.lit(kId) || !c.uint(id) || !c.lit(kOkTrue) ||
        !c.lit(kServer) || !c.text(server, is_str) || !c.lit(kServiceUs) || !c.uint(service_us) ||
        !c.lit(kData) || !c.text(data, is_str) || !c.at_end())
        return false;
    out.id = id;
    out.ok = true;
    out.server = server;
    out.service_us = service_us;
    out.data = data;
    return true;
}

} // namespace zlb::proto::detail
