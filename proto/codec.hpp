#pragma once
// Wire protocol v1 (see proto/PROTOCOL.md): one msgpack map per message, after an
// empty delimiter frame. Decoders reuse their buffers so the hot path does not allocate.
#include "factor/u128.hpp"

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::proto {

inline constexpr std::uint64_t kVersion = 1;
inline constexpr std::size_t kMaxBatch = 4096;
inline constexpr std::uint32_t kDefaultFetchTimeoutMs = 30'000;
inline constexpr std::uint64_t kDefaultMaxBytes = 8ULL << 20;

enum class Op : std::uint8_t { echo, factor, fetch, status };
inline constexpr std::size_t kOpCount = 4; // arrays indexed by Op are this long
enum class ErrorCode : std::uint8_t {
    bad_request,
    unsupported_op,
    unsupported_version,
    too_large,
    deadline_exceeded,
    overloaded,
    fetch_failed,
    timeout,
    internal,
};
inline constexpr std::size_t kErrorCodeCount = 9; // arrays indexed by ErrorCode are this long

std::string_view to_string(Op op);
std::string_view to_string(ErrorCode code);
std::optional<Op> parse_op(std::string_view name);
std::optional<ErrorCode> parse_error_code(std::string_view name);

struct FetchParams {
    std::string_view url;
    bool head = false;
    std::uint32_t timeout_ms = kDefaultFetchTimeoutMs;
    std::uint64_t max_bytes = kDefaultMaxBytes;
    bool want_body = false;
};

// A decoded request. Views point into the message it was decoded from.
struct Request {
    std::optional<std::uint64_t> id;
    Op op = Op::echo;
    std::optional<std::uint32_t> deadline_ms;
    std::string_view data; // echo
    bool data_is_str = false;
    std::vector<u128> ns; // factor: one number, or the batch
    bool batch = false;
    FetchParams fetch;
};

struct DecodeError {
    ErrorCode code = ErrorCode::bad_request;
    std::string message;
};

// The id of a request that will not be decoded whole (too large): read from the map's
// top level alone, with the decoder's bounds. nullopt when there is none to read.
std::optional<std::uint64_t> request_id_peek(std::string_view message);

class RequestDecoder {
public:
    // Fills out, or fills err and returns false. out.id is set as soon as it could
    // be read, so even a failed request can be answered with its id.
    // An echo request in zlb's own layout is read as a byte pattern (echo_read.hpp);
    // every other message by decode_full.
    bool decode(std::string_view message, Request& out, DecodeError& err);
    // The general decoder alone: what decode must agree with (the tests compare them).
    bool decode_full(std::string_view message, Request& out, DecodeError& err);

private:
    msgpack::zone zone_;
};

// Results a server puts in a reply.
struct FetchResult {
    long status = 0;
    std::uint64_t bytes = 0;
    std::uint64_t elapsed_us = 0;
    std::string_view content_type;
    std::optional<std::string_view> body;
};

struct ReplyHeader {
    std::optional<std::uint64_t> id;
    std::string_view server;
    std::uint64_t service_us = 0;
};

using Packer = msgpack::packer<msgpack::sbuffer>;

// Starts a reply map holding the common fields plus `extra` fields the caller packs
// next (key, value, ...). The caller clears the buffer first.
void encode_reply_begin(Packer& pk, const ReplyHeader& h, bool ok, std::uint32_t extra);
void pack_str(Packer& pk, std::string_view s);

// Reply encoders. Each clears buf and writes one complete msgpack map.
void encode_error(msgpack::sbuffer& buf, const ReplyHeader& h, ErrorCode code,
                  std::string_view message);
void encode_echo(msgpack::sbuffer& buf, const ReplyHeader& h, std::string_view data,
                 bool data_is_str);
// The same reply into memory the caller sized, such as a zmq message, so it is written
// once and never copied: echo_reply_bytes says how much, and echo_reply_write writes
// exactly that many bytes at out.
std::size_t echo_reply_bytes(const ReplyHeader& h, std::string_view data, bool data_is_str);
void echo_reply_write(char* out, const ReplyHeader& h, std::string_view data, bool data_is_str);
// factors holds the prime lists of each number back to back; sizes[i] is the length
// of the i-th list. batch selects `factors` as an array of arrays.
void encode_factors(msgpack::sbuffer& buf, const ReplyHeader& h, std::span<const u128> factors,
                    std::span<const std::uint32_t> sizes, bool batch);
void encode_fetch(msgpack::sbuffer& buf, const ReplyHeader& h, const FetchResult& r);

// Request encoders, for clients.
void encode_echo_request(msgpack::sbuffer& buf, std::uint64_t id, std::string_view data,
                         std::optional<std::uint32_t> deadline_ms = {});
void encode_factor_request(msgpack::sbuffer& buf, std::uint64_t id, std::span<const u128> ns,
                           bool batch, std::optional<std::uint32_t> deadline_ms = {});
void encode_status_request(msgpack::sbuffer& buf, std::uint64_t id);
// Re-encodes a request (a msgpack map) into buf with deadline_ms set to deadline_ms,
// every other field as it was. False when request is not a msgpack map.
bool request_deadline_set(std::string_view request, std::uint32_t deadline_ms,
                          msgpack::sbuffer& buf);
void encode_fetch_request(msgpack::sbuffer& buf, std::uint64_t id, const FetchParams& p,
                          std::optional<std::uint32_t> deadline_ms = {});

// A decoded reply, as a client sees it. Views point into the message.
struct Reply {
    std::optional<std::uint64_t> id;
    bool ok = false;
    std::string_view server;
    std::uint64_t service_us = 0;
    std::string_view error_code; // as sent; may be a code this client does not know
    std::string_view error_message;
    // factor
    std::vector<u128> factors; // all lists back to back
    std::vector<std::uint32_t> factor_sizes;
    // fetch
    long status = 0;
    std::uint64_t bytes = 0;
    std::uint64_t elapsed_us = 0;
    std::string_view content_type;
    std::optional<std::string_view> body;
    // echo
    std::string_view data;
};

class ReplyDecoder {
public:
    // As RequestDecoder: an echo reply in zlb's layout by pattern, the rest by decode_full.
    bool decode(std::string_view message, Reply& out, std::string& err);
    bool decode_full(std::string_view message, Reply& out, std::string& err);

private:
    msgpack::zone zone_;
};

} // namespace zlb::proto
