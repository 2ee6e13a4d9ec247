// Request decoding, and the names of ops and error codes. Every malformed request ends
// as a DecodeError with a message a human can act on; nothing here throws to the caller.
// (Replies are decoded in reply_decode.cpp.)
#include "proto/codec.hpp"
#include "proto/echo_read.hpp"
#include "proto/msgpack_view.hpp"

#include <algorithm>
#include <array>

namespace zlb::proto {
namespace {

constexpr std::array kOpNames{"echo", "factor", "fetch", "status"};
static_assert(kOpNames.size() == kOpCount);
constexpr std::array kErrorNames{"bad_request",       "unsupported_op", "unsupported_version",
                                 "too_large",         "deadline_exceeded", "overloaded",
                                 "fetch_failed",      "timeout",        "internal"};
static_assert(kErrorNames.size() == kErrorCodeCount);

struct Fail {
    ErrorCode code;
    std::string message;
};

using namespace detail;

std::uint64_t need_uint(const Map& m, std::string_view key, std::uint64_t fallback,
                        std::uint64_t max) {
    const auto* o = find(m, key);
    if (!o) return fallback;
    std::uint64_t v = 0;
    if (!as_uint(*o, v) || v > max)
        throw Fail{ErrorCode::bad_request, std::string(key) + " must be an unsigned integer"};
    return v;
}

u128 number_of(const msgpack::object& o) {
    std::uint64_t small = 0;
    std::string_view text;
    std::optional<u128> n;
    if (as_uint(o, small)) n = small;
    else if (o.type == msgpack::type::STR && as_text(o, text)) n = parse_u128(text);
    if (!n)
        throw Fail{ErrorCode::bad_request,
                   "n must be an unsigned integer or a decimal string below 2^128"};
    if (*n == 0) throw Fail{ErrorCode::bad_request, "n must be at least 1"};
    return *n;
}

void decode_factor(const Map& m, Request& r) {
    r.ns.clear();
    if (const auto* n = find(m, "n")) {
        r.ns.push_back(number_of(*n));
        return;
    }
    const auto* ns = find(m, "ns");
    if (!ns) throw Fail{ErrorCode::bad_request, "factor needs n or ns"};
    if (ns->type != msgpack::type::ARRAY) throw Fail{ErrorCode::bad_request, "ns must be an array"};
    if (ns->via.array.size > kMaxBatch)
        throw Fail{ErrorCode::too_large, "ns holds more than 4096 numbers"};
    r.batch = true;
    for (std::uint32_t i = 0; i < ns->via.array.size; ++i)
        r.ns.push_back(number_of(ns->via.array.ptr[i]));
}

void decode_fetch(const Map& m, Request& r) {
    auto& f = r.fetch;
    const auto* url = find(m, "url");
    if (!url || url->type != msgpack::type::STR || !as_text(*url, f.url) || f.url.empty())
        throw Fail{ErrorCode::bad_request, "fetch needs url as a string"};
    std::string_view method = "GET";
    if (const auto* o = find(m, "method"); o && !as_text(*o, method))
        throw Fail{ErrorCode::bad_request, "method must be a string"};
    if (method != "GET" && method != "HEAD")
        throw Fail{ErrorCode::bad_request, "method must be GET or HEAD"};
    f.head = method == "HEAD";
    f.timeout_ms = static_cast<std::uint32_t>(
        need_uint(m, "timeout_ms", kDefaultFetchTimeoutMs, 24ULL * 3600 * 1000));
    if (f.timeout_ms == 0) throw Fail{ErrorCode::bad_request, "timeout_ms must be at least 1"};
    f.max_bytes = need_uint(m, "max_bytes", kDefaultMaxBytes, UINT64_MAX);
    f.want_body = false;
    if (const auto* o = find(m, "want_body")) {
        if (o->type != msgpack::type::BOOLEAN)
            throw Fail{ErrorCode::bad_request, "want_body must be a boolean"};
        f.want_body = o->via.boolean;
    }
}

void decode_request(const msgpack::object& root, Request& r) {
    if (root.type != msgpack::type::MAP)
        throw Fail{ErrorCode::bad_request, "request must be a msgpack map"};
    const Map& m = root.via.map;
    // The head's keys in one pass; the op's own keys are looked up by its decoder.
    std::array<const msgpack::object*, 5> head;
    index(m, std::array<std::string_view, 5>{"id", "v", "op", "deadline_ms", "data"}, head);
    const auto [id_at, v_at, op_at, deadline_at, data_at] = head;
    if (const auto* id = id_at) {
        std::uint64_t v = 0;
        if (!as_uint(*id, v)) throw Fail{ErrorCode::bad_request, "id must be an unsigned integer"};
        r.id = v;
    }
    const auto* v = v_at;
    std::uint64_t version = 0;
    if (!v || !as_uint(*v, version)) throw Fail{ErrorCode::bad_request, "v must be 1"};
    if (version != kVersion)
        throw Fail{ErrorCode::unsupported_version, "this server speaks protocol v1"};
    if (!r.id) throw Fail{ErrorCode::bad_request, "id is missing"};
    std::string_view op_name;
    const auto* op = op_at;
    if (!op || op->type != msgpack::type::STR || !as_text(*op, op_name))
        throw Fail{ErrorCode::bad_request, "op must be a string"};
    auto parsed = parse_op(op_name);
    if (!parsed) throw Fail{ErrorCode::unsupported_op, "unknown op " + std::string(op_name)};
    r.op = *parsed;
    if (deadline_at)
        r.deadline_ms = static_cast<std::uint32_t>(need_uint(m, "deadline_ms", 0, UINT32_MAX));
    switch (r.op) {
    case Op::echo:
        if (const auto* d = data_at; !d || !as_text(*d, r.data))
            throw Fail{ErrorCode::bad_request, "echo needs data as bin or str"};
        else r.data_is_str = d->type == msgpack::type::STR;
        break;
    case Op::factor: decode_factor(m, r); break;
    case Op::fetch: decode_fetch(m, r); break;
    case Op::status: break;
    }
}

} // namespace

namespace detail {

// Strings and bins are referenced in place instead of copied into the zone.
static bool reference_all(msgpack::type::object_type, std::size_t, void*) { return true; }

namespace {

// Big-endian unsigned of n bytes at p.
std::uint64_t be(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
}

// One scalar at p (below end) into o, as msgpack-c's unpacker would make it: ints that are
// not negative are POSITIVE_INTEGER whatever their wire type, strings and bins point into
// the message. False for anything else (arrays, maps, floats, ext, the reserved 0xc1) and
// for a value cut short: the full parser takes those, and says what is wrong.
bool scalar_read(const unsigned char*& p, const unsigned char* end, msgpack::object& o) {
    const unsigned b = *p++;
    std::size_t len = 0, head = 0; // head: length bytes of a str or bin
    auto need = [&](std::size_t n) { return static_cast<std::size_t>(end - p) >= n; };
    auto set_int = [&](std::int64_t v) {
        if (v < 0) {
            o.type = msgpack::type::NEGATIVE_INTEGER;
            o.via.i64 = v;
        } else {
            o.type = msgpack::type::POSITIVE_INTEGER;
            o.via.u64 = static_cast<std::uint64_t>(v);
        }
    };
    if (b <= 0x7f) {
        o.type = msgpack::type::POSITIVE_INTEGER;
        o.via.u64 = b;
        return true;
    }
    if (b >= 0xe0) {
        set_int(static_cast<std::int8_t>(b));
        return true;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        len = b & 0x1f;
        o.type = msgpack::type::STR;
    } else {
        switch (b) {
        case 0xc0: o.type = msgpack::type::NIL; return true;
        case 0xc2:
        case 0xc3:
            o.type = msgpack::type::BOOLEAN;
            o.via.boolean = b == 0xc3;
            return true;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            const std::size_t n = std::size_t{1} << (b - 0xcc);
            if (!need(n)) return false;
            o.type = msgpack::type::POSITIVE_INTEGER;
            o.via.u64 = be(p, n);
            p += n;
            return true;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            const std::size_t n = std::size_t{1} << (b - 0xd0);
            if (!need(n)) return false;
            std::uint64_t u = be(p, n);
            p += n;
            // Sign-extend from n bytes.
            const unsigned shift = static_cast<unsigned>(64 - 8 * n);
            set_int(static_cast<std::int64_t>(u << shift) >> shift);
            return true;
        }
        case 0xd9: case 0xda: case 0xdb:
            head = std::size_t{1} << (b - 0xd9);
            o.type = msgpack::type::STR;
            break;
        case 0xc4: case 0xc5: case 0xc6:
            head = std::size_t{1} << (b - 0xc4);
            o.type = msgpack::type::BIN;
            break;
        default: return false;
        }
        if (!need(head)) return false;
        len = be(p, head);
        p += head;
    }
    if (!need(len)) return false;
    // str and bin share one layout in msgpack::object's union.
    o.via.str.ptr = reinterpret_cast<const char*>(p);
    o.via.str.size = static_cast<std::uint32_t>(len);
    p += len;
    return true;
}

// The hot path: a request or reply is a map of scalars (echo, fetch, status, a single n;
// echo and fetch replies). Read without msgpack-c's general parser, into the same objects
// it would build. False when the message is anything else.
constexpr std::uint32_t kFlatMaxEntries = 16;

bool flat_map_parse(msgpack::zone& zone, std::string_view message, msgpack::object& root) {
    const auto* p = reinterpret_cast<const unsigned char*>(message.data());
    const auto* end = p + message.size();
    std::uint32_t n = 0;
    if ((*p & 0xf0) == 0x80) {
        n = *p++ & 0x0f;
    } else if (*p == 0xde && end - p >= 3) {
        n = static_cast<std::uint32_t>(be(p + 1, 2));
        p += 3;
    } else {
        return false;
    }
    if (n > kFlatMaxEntries) return false;
    // Straight into the zone: on a fallback the full parser clears it again.
    msgpack::object_kv* kv = nullptr;
    if (n)
        kv = static_cast<msgpack::object_kv*>(
            zone.allocate_align(sizeof(msgpack::object_kv) * n, alignof(msgpack::object_kv)));
    for (std::uint32_t i = 0; i < n; ++i) {
        if (p == end || !scalar_read(p, end, kv[i].key)) return false;
        if (p == end || !scalar_read(p, end, kv[i].val)) return false;
    }
    if (p != end) return false; // trailing bytes: the full parser words the error
    root.type = msgpack::type::MAP;
    root.via.map.size = n;
    root.via.map.ptr = kv;
    return true;
}

} // namespace

const char* parse_root(msgpack::zone& zone, std::string_view message, msgpack::object& root) {
    zone.clear();
    if (message.empty()) return "empty message";
    if (flat_map_parse(zone, message, root)) return nullptr;
    return parse_root_full(zone, message, root);
}

const char* parse_root_full(msgpack::zone& zone, std::string_view message, msgpack::object& root) {
    zone.clear();
    if (message.empty()) return "empty message";
    try {
        std::size_t offset = 0;
        // Bounds keep a hostile message from making the parser allocate huge tables.
        msgpack::unpack_limit limit(1u << 16, 1024, 1u << 30, 1u << 30, 1024, 16);
        root = msgpack::unpack(zone, message.data(), message.size(), offset, reference_all,
                               nullptr, limit);
        if (offset != message.size()) return "message is not a single msgpack value";
    } catch (const std::exception&) {
        return "message is not valid msgpack";
    }
    return nullptr;
}

} // namespace detail

std::optional<std::uint64_t> request_id_peek(std::string_view message) {
    msgpack::zone zone;
    msgpack::object root;
    std::uint64_t id = 0;
    if (detail::parse_root(zone, message, root) || root.type != msgpack::type::MAP) return {};
    const auto* o = detail::find(root.via.map, "id");
    if (!o || !detail::as_uint(*o, id)) return {};
    return id;
}

std::string_view to_string(Op op) { return kOpNames[static_cast<std::size_t>(op)]; }
std::string_view to_string(ErrorCode c) { return kErrorNames[static_cast<std::size_t>(c)]; }

std::optional<Op> parse_op(std::string_view name) {
    for (std::size_t i = 0; i < kOpNames.size(); ++i)
        if (name == kOpNames[i]) return static_cast<Op>(i);
    return std::nullopt;
}

std::optional<ErrorCode> parse_error_code(std::string_view name) {
    for (std::size_t i = 0; i < kErrorNames.size(); ++i)
        if (name == kErrorNames[i]) return static_cast<ErrorCode>(i);
    return std::nullopt;
}

namespace {

void request_clear(Request& out) {
    out.id.reset();
    out.deadline_ms.reset();
    out.batch = false;
    out.ns.clear();
    out.fetch = FetchParams{};
}

} // namespace

bool RequestDecoder::decode(std::string_view message, Request& out, DecodeError& err) {
    request_clear(out);
    if (detail::echo_request_read(message, out)) return true;
    return decode_full(message, out, err);
}

bool RequestDecoder::decode_full(std::string_view message, Request& out, DecodeError& err) {
    request_clear(out);
    msgpack::object root;
    if (const char* why = parse_root(zone_, message, root)) {
        err = {ErrorCode::bad_request, why};
        return false;
    }
    try {
        decode_request(root, out);
    } catch (Fail& f) {
        err = {f.code, std::move(f.message)};
        return false;
    }
    return true;
}

} // namespace zlb::proto
