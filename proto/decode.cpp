// Request decoding, and the names of ops and error codes. Every malformed request ends
// as a DecodeError with a message a human can act on; nothing here throws to the caller.
// (Replies are decoded in reply_decode.cpp.)
#include "proto/codec.hpp"
#include "proto/msgpack_view.hpp"

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
    if (const auto* id = find(m, "id")) {
        std::uint64_t v = 0;
        if (!as_uint(*id, v)) throw Fail{ErrorCode::bad_request, "id must be an unsigned integer"};
        r.id = v;
    }
    const auto* v = find(m, "v");
    std::uint64_t version = 0;
    if (!v || !as_uint(*v, version)) throw Fail{ErrorCode::bad_request, "v must be 1"};
    if (version != kVersion)
        throw Fail{ErrorCode::unsupported_version, "this server speaks protocol v1"};
    if (!r.id) throw Fail{ErrorCode::bad_request, "id is missing"};
    std::string_view op_name;
    const auto* op = find(m, "op");
    if (!op || op->type != msgpack::type::STR || !as_text(*op, op_name))
        throw Fail{ErrorCode::bad_request, "op must be a string"};
    auto parsed = parse_op(op_name);
    if (!parsed) throw Fail{ErrorCode::unsupported_op, "unknown op " + std::string(op_name)};
    r.op = *parsed;
    if (find(m, "deadline_ms"))
        r.deadline_ms = static_cast<std::uint32_t>(need_uint(m, "deadline_ms", 0, UINT32_MAX));
    switch (r.op) {
    case Op::echo:
        if (const auto* d = find(m, "data"); !d || !as_text(*d, r.data))
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

const char* parse_root(msgpack::zone& zone, std::string_view message, msgpack::object& root) {
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

bool RequestDecoder::decode(std::string_view message, Request& out, DecodeError& err) {
    out.id.reset();
    out.deadline_ms.reset();
    out.batch = false;
    out.ns.clear();
    out.fetch = FetchParams{};
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
