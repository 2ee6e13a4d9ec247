#pragma once
// The echo request and the echo reply read as byte patterns: the exact bytes zlb's own
// encoders write (encode_echo_request, encode_echo), which is every message of an echo
// load. A pattern read builds no msgpack objects and looks up no keys. Anything else
// (another key order, another key, a duplicate key, a nil id, trailing bytes, a hostile
// peer) makes the reader decline, and the general decoder takes the message. Either way
// the result is the same: test_echo_read and both fuzzers hold the two to that.
#include "proto/codec.hpp"

#include <string_view>

namespace zlb::proto::detail {

// True, with out's echo fields set (id, op, deadline_ms, data, data_is_str), when message
// is an echo request in encode_echo_request's layout; false, out untouched, otherwise.
bool echo_request_read(std::string_view message, Request& out);
// True, with out's fields of an echo reply set (id, ok, server, service_us, data), when
// message is an echo reply in encode_echo's layout; false, out untouched, otherwise.
bool echo_reply_read(std::string_view message, Reply& out);

} // namespace zlb::proto::detail
