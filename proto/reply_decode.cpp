// Reply decoding for clients. A reply that breaks the protocol is reported, never trusted.
#include "proto/codec.hpp"
#include "proto/echo_read.hpp"
#include "proto/msgpack_view.hpp"

namespace zlb::proto {
namespace {

using namespace detail;

bool number_of(const msgpack::object& o, u128& out) {
    std::uint64_t small = 0;
    std::string_view text;
    if (as_uint(o, small)) {
        out = small;
        return true;
    }
    if (o.type != msgpack::type::STR || !as_text(o, text)) return false;
    auto n = parse_u128(text);
    if (n) out = *n;
    return n.has_value();
}

bool factor_list(const msgpack::object& o, Reply& r) {
    if (o.type != msgpack::type::ARRAY) return false;
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        u128 f = 0;
        if (!number_of(o.via.array.ptr[i], f)) return false;
        r.factors.push_back(f);
    }
    r.factor_sizes.push_back(o.via.array.size);
    return true;
}

// A batch reply is an array of arrays; a single reply is one array of numbers.
bool decode_factors(const msgpack::object& o, Reply& r) {
    if (o.type != msgpack::type::ARRAY) return false;
    bool nested = o.via.array.size > 0 && o.via.array.ptr[0].type == msgpack::type::ARRAY;
    if (!nested) return factor_list(o, r);
    for (std::uint32_t i = 0; i < o.via.array.size; ++i)
        if (!factor_list(o.via.array.ptr[i], r)) return false;
    return true;
}

// The top-level keys a reply may carry, looked up in one pass (detail::index).
enum Key : std::size_t { kV, kId, kOk, kServer, kServiceUs, kError, kFactors, kData, kStatus,
                         kBytes, kElapsedUs, kContentType, kBody, kKeyCount };
constexpr std::array<std::string_view, kKeyCount> kKeys{
    "v", "id", "ok", "server", "service_us", "error", "factors", "data", "status", "bytes",
    "elapsed_us", "content_type", "body"};
using Fields = std::array<const msgpack::object*, kKeyCount>;

const char* decode_ok_fields(const Fields& f, Reply& r) {
    if (f[kFactors] && !decode_factors(*f[kFactors], r)) return "bad factors";
    if (f[kData] && !as_text(*f[kData], r.data)) return "bad data";
    if (const auto* s = f[kStatus]) {
        // HTTP statuses have three digits; anything else would be a key of the report.
        if (s->type != msgpack::type::POSITIVE_INTEGER || s->via.u64 > 999) return "bad status";
        r.status = static_cast<long>(s->via.u64);
    }
    std::uint64_t v = 0;
    if (f[kBytes] && as_uint(*f[kBytes], v)) r.bytes = v;
    if (f[kElapsedUs] && as_uint(*f[kElapsedUs], v)) r.elapsed_us = v;
    if (f[kContentType]) as_text(*f[kContentType], r.content_type);
    std::string_view body;
    if (f[kBody] && as_text(*f[kBody], body)) r.body = body;
    return nullptr;
}

const char* decode_error_fields(const Fields& f, Reply& r) {
    const auto* e = f[kError];
    if (!e || e->type != msgpack::type::MAP) return "error reply without error map";
    const auto* code = find(e->via.map, "code");
    if (!code || !as_text(*code, r.error_code)) return "error reply without code";
    if (const auto* msg = find(e->via.map, "message")) as_text(*msg, r.error_message);
    return nullptr;
}

const char* decode_reply(const msgpack::object& root, Reply& r) {
    if (root.type != msgpack::type::MAP) return "reply is not a map";
    Fields f;
    index(root.via.map, kKeys, f);
    std::uint64_t v = 0;
    if (!f[kV] || !as_uint(*f[kV], v) || v != kVersion) return "reply is not protocol v1";
    if (f[kId] && as_uint(*f[kId], v)) r.id = v;
    const auto* ok = f[kOk];
    if (!ok || ok->type != msgpack::type::BOOLEAN) return "reply without ok";
    r.ok = ok->via.boolean;
    if (f[kServer]) as_text(*f[kServer], r.server);
    if (f[kServiceUs] && as_uint(*f[kServiceUs], v)) r.service_us = v;
    return r.ok ? decode_ok_fields(f, r) : decode_error_fields(f, r);
}

} // namespace

namespace {

void reply_clear(Reply& out) {
    out.id.reset();
    out.ok = false;
    out.server = out.error_code = out.error_message = out.content_type = out.data = {};
    out.service_us = out.bytes = out.elapsed_us = 0;
    out.status = 0;
    out.body.reset();
    out.factors.clear();
    out.factor_sizes.clear();
}

} // namespace

bool ReplyDecoder::decode(std::string_view message, Reply& out, std::string& err) {
    reply_clear(out);
    if (detail::echo_reply_read(message, out)) return true;
    return decode_full(message, out, err);
}

bool ReplyDecoder::decode_full(std::string_view message, Reply& out, std::string& err) {
    reply_clear(out);
    msgpack::object root;
    const char* why = parse_root(zone_, message, root);
    if (!why) why = decode_reply(root, out);
    if (why) err = why;
    return why == nullptr;
}

} // namespace zlb::proto
