#pragma once
// Small read helpers over msgpack objects, shared by the request and reply decoders.
#include <msgpack.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace zlb::proto::detail {

using Map = msgpack::object_map;

// Key names are short and mostly differ in length or first letter: checking those first
// leaves memcmp to the one name that matches (the hot path looks up every key of every
// message).
inline bool key_is(const msgpack::object& k, std::string_view key) {
    return k.type == msgpack::type::STR && k.via.str.size == key.size() && !key.empty() &&
           k.via.str.ptr[0] == key[0] && std::memcmp(k.via.str.ptr, key.data(), key.size()) == 0;
}

inline const msgpack::object* find(const Map& map, std::string_view key) {
    for (std::uint32_t i = 0; i < map.size; ++i)
        if (key_is(map.ptr[i].key, key)) return &map.ptr[i].val;
    return nullptr;
}

// find() for several keys in one pass over the map: out[i] is the first value of keys[i],
// or nullptr. The keys must be distinct.
template <std::size_t N>
void index(const Map& map, const std::array<std::string_view, N>& keys,
           std::array<const msgpack::object*, N>& out) {
    out.fill(nullptr);
    for (std::uint32_t i = 0; i < map.size; ++i) {
        const auto& k = map.ptr[i].key;
        if (k.type != msgpack::type::STR) continue;
        for (std::size_t j = 0; j < N; ++j)
            if (key_is(k, keys[j])) {
                if (!out[j]) out[j] = &map.ptr[i].val;
                break;
            }
    }
}

inline bool as_uint(const msgpack::object& o, std::uint64_t& out) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
    out = o.via.u64;
    return true;
}

inline bool as_text(const msgpack::object& o, std::string_view& out) {
    if (o.type == msgpack::type::STR) out = {o.via.str.ptr, o.via.str.size};
    else if (o.type == msgpack::type::BIN) out = {o.via.bin.ptr, o.via.bin.size};
    else return false;
    return true;
}

// Parses one whole msgpack value from message into zone, referencing strings in place.
// Returns nullptr on success, else why it failed. Trailing bytes are an error.
// A map of at most 16 scalar entries (the hot path's requests and replies) is read by a
// hand-written reader into the objects msgpack-c would build; anything else, and every
// malformed message, goes to msgpack-c's parser (parse_root_full), which words the error.
const char* parse_root(msgpack::zone& zone, std::string_view message, msgpack::object& root);
// msgpack-c's parser alone: what parse_root must agree with (tests compare the two).
const char* parse_root_full(msgpack::zone& zone, std::string_view message, msgpack::object& root);

} // namespace zlb::proto::detail
