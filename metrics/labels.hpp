#pragma once
// Label values shared by the server's and the broker's series, all from fixed sets: an op
// index is a proto::Op or kOpUnknown (a request refused before its op was read).
#include "proto/codec.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace zlb::metrics {

inline constexpr std::size_t kOpUnknown = proto::kOpCount;
inline constexpr std::size_t kOpLabels = proto::kOpCount + 1;

inline std::size_t op_index(std::optional<proto::Op> op) {
    return op ? static_cast<std::size_t>(*op) : kOpUnknown;
}
inline std::string op_label(std::size_t op) {
    return op < proto::kOpCount ? std::string(proto::to_string(static_cast<proto::Op>(op)))
                                : std::string("unknown");
}
inline std::string code_label(proto::ErrorCode code) { return std::string(proto::to_string(code)); }

} // namespace zlb::metrics
