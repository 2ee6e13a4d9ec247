#include "proto/worker.hpp"

#include "proto/msgpack_view.hpp"

namespace zlb::proto::worker {

void pack_ops(Packer& pk, std::uint32_t ops) {
    constexpr Op kOps[] = {Op::echo, Op::factor, Op::fetch, Op::status};
    std::uint32_t count = 0;
    for (auto op : kOps) count += (ops & op_bit(op)) != 0;
    pk.pack_array(count);
    for (auto op : kOps)
        if (ops & op_bit(op)) pack_str(pk, to_string(op));
}

void encode_ready(msgpack::sbuffer& buf, const Ready& r) {
    buf.clear();
    Packer pk(buf);
    pk.pack_map(r.heartbeat_ms ? 5 : 4);
    pack_str(pk, "v");
    pk.pack_uint64(kWorkerVersion);
    pack_str(pk, "name");
    pack_str(pk, r.name);
    pack_str(pk, "ops");
    pack_ops(pk, r.ops);
    pack_str(pk, "credit");
    pk.pack_uint32(r.credit);
    if (r.heartbeat_ms) {
        pack_str(pk, "heartbeat_ms");
        pk.pack_uint32(r.heartbeat_ms);
    }
}

std::optional<Ready> decode_ready(std::string_view body) {
    using namespace detail;
    msgpack::zone zone;
    msgpack::object root;
    if (parse_root(zone, body, root) || root.type != msgpack::type::MAP) return std::nullopt;
    const Map& m = root.via.map;
    Ready r;
    std::uint64_t v = 0, credit = 0;
    std::string_view text;
    const auto* version = find(m, "v");
    const auto* name = find(m, "name");
    const auto* ops = find(m, "ops");
    const auto* cr = find(m, "credit");
    if (!version || !as_uint(*version, v) || v != kWorkerVersion) return std::nullopt;
    if (!name || !as_text(*name, text)) return std::nullopt;
    r.name = text;
    if (!cr || !as_uint(*cr, credit) || credit == 0 || credit > 1'000'000) return std::nullopt;
    r.credit = static_cast<std::uint32_t>(credit);
    if (const auto* hb = find(m, "heartbeat_ms")) {
        std::uint64_t ms = 0;
        if (!as_uint(*hb, ms) || ms == 0 || ms > kMaxHeartbeatMs) return std::nullopt;
        r.heartbeat_ms = static_cast<std::uint32_t>(ms);
    }
    if (!ops || ops->type != msgpack::type::ARRAY) return std::nullopt;
    for (std::uint32_t i = 0; i < ops->via.array.size; ++i) {
        if (!as_text(ops->via.array.ptr[i], text)) return std::nullopt;
        if (auto op = parse_op(text)) r.ops |= op_bit(*op);
    }
    return r;
}

} // namespace zlb::proto::worker
