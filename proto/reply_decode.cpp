// Reply decoding for clients. A reply that breaks the protocol is reported, never trusted.
#include "proto/codec.hpp"
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

const char* decode_ok_fields(const Map& m, Reply& r) {
    if (const auto* f = find(m, "factors"); f && !decode_factors(*f, r)) return "bad factors";
    if (const auto* d = find(m, "data"); d && !as_text(*d, r.data)) return "bad data";
    if (const auto* s = find(m, "status")) {
        if (s->type != msgpack::type::POSITIVE_INTEGER) return "bad status";
        r.status = static_cast<long>(s->via.u64);
    }
    std::uint64_t v = 0;
    if (const auto* b = find(m, "bytes"); b && as_uint(*b, v)) r.bytes = v;
    if (const auto* e = find(m, "elapsed_us"); e && as_uint(*e, v)) r.elapsed_us = v;
    if (const auto* c = find(m, "content_type")) as_text(*c, r.content_type);
    std::string_view body;
    if (const auto* b = find(m, "body"); b && as_text(*b, body)) r.body = body;
    return nullptr;
}

const char* decode_error_fields(const Map& m, Reply& r) {
    const auto* e = find(m, "error");
    if (!e || e->type != msgpack::type::MAP) return "error reply without error map";
    const auto* code = find(e->via.map, "code");
    if (!code || !as_text(*code, r.error_code)) return "error reply without code";
    if (const auto* msg = find(e->via.map, "message")) as_text(*msg, r.error_message);
    return nullptr;
}

const char* decode_reply(const msgpack::object& root, Reply& r) {
    if (root.type != msgpack::type::MAP) return "reply is not a map";
    const Map& m = root.via.map;
    std::uint64_t v = 0;
    const auto* version = find(m, "v");
    if (!version || !as_uint(*version, v) || v != kVersion) return "reply is not protocol v1";
    if (const auto* id = find(m, "id"); id && as_uint(*id, v)) r.id = v;
    const auto* ok = find(m, "ok");
    if (!ok || ok->type != msgpack::type::BOOLEAN) return "reply without ok";
    r.ok = ok->via.boolean;
    if (const auto* s = find(m, "server")) as_text(*s, r.server);
    if (const auto* s = find(m, "service_us"); s && as_uint(*s, v)) r.service_us = v;
    return r.ok ? decode_ok_fields(m, r) : decode_error_fields(m, r);
}

} // namespace

bool ReplyDecoder::decode(std::string_view message, Reply& out, std::string& err) {
    out.id.reset();
    out.ok = false;
    out.server = out.error_code = out.error_message = out.content_type = out.data = {};
    out.service_us = out.bytes = out.elapsed_us = 0;
    out.status = 0;
    out.body.reset();
    out.factors.clear();
    out.factor_sizes.clear();
    msgpack::object root;
    const char* why = parse_root(zone_, message, root);
    if (!why) why = decode_reply(root, out);
    if (why) err = why;
    return why == nullptr;
}

} // namespace zlb::proto
