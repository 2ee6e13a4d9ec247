// fuzz_reply: the client's ReplyDecoder on arbitrary bytes, as a hostile or broken server
// could send them. No crash, leak or UB, the same result as its general decoder alone
// (decode_full: the echo pattern reader must never answer otherwise), and a reply it
// accepts is self-consistent.
#include "proto/codec.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

struct State {
    zlb::proto::ReplyDecoder decoder; // reused, as the client reuses it
    zlb::proto::Reply reply;
    std::string err;
    zlb::proto::ReplyDecoder full_decoder;
    zlb::proto::Reply full;
    std::string full_err;
};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_reply: %s\n", what);
    std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    auto p = reinterpret_cast<std::uintptr_t>(part.data());
    auto w = reinterpret_cast<std::uintptr_t>(whole.data());
    return p >= w && p + part.size() <= w + whole.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static State* s = new State;
    const std::string_view message(reinterpret_cast<const char*>(data), size);
    auto& r = s->reply;
    const bool decoded = s->decoder.decode(message, r, s->err);
    const auto& f = s->full;
    if (s->full_decoder.decode_full(message, s->full, s->full_err) != decoded)
        fail("decode and decode_full disagree on whether it decodes");
    if (!decoded) {
        if (s->err.empty()) fail("rejected without saying why");
        if (s->err != s->full_err) fail("decode and decode_full refuse differently");
        return 0;
    }
    if (r.id != f.id || r.ok != f.ok || r.server != f.server || r.service_us != f.service_us ||
        r.data != f.data || r.error_code != f.error_code || r.error_message != f.error_message ||
        r.status != f.status || r.bytes != f.bytes || r.elapsed_us != f.elapsed_us ||
        r.content_type != f.content_type || r.body != f.body || r.factors != f.factors ||
        r.factor_sizes != f.factor_sizes)
        fail("decode and decode_full read different replies");
    // Every view points into the message it was decoded from.
    for (std::string_view v : {r.server, r.error_code, r.error_message, r.content_type, r.data})
        if (!inside(v, message)) fail("a view points outside the message");
    if (r.body && !inside(*r.body, message)) fail("body points outside the message");
    if (!r.ok && !r.factors.empty()) fail("error reply with factors");
    std::size_t total = 0;
    for (auto n : r.factor_sizes) total += n;
    if (total != r.factors.size()) fail("factor list sizes don't add up");
    return 0;
}
