#pragma once
// HdrHistogram's V2 compressed encoding, as the Java, C and Go HdrHistogram libraries
// write it in interval logs: big-endian, a cookie and length, then a zlib stream of
// (40-byte header, counts as ZigZag LEB128 words with runs of zeros as one negative word).
#include "stats/histogram.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::hdr {

// The cookie bases of the reference implementation; bits 4-7 carry the word size
// (0x10 marks the ZigZag LEB128 "TLZE" encoding), so a reader compares base | 0x10.
inline constexpr std::uint32_t kV2EncodingCookieBase = 0x1c849303;
inline constexpr std::uint32_t kV2CompressedCookieBase = 0x1c849304;
inline constexpr std::uint32_t kCookieWordSize = 0x10;
// Bytes before the counts in the uncompressed encoding.
inline constexpr std::size_t kHeaderBytes = 40;

// Thrown for anything malformed or of a layout zlb does not hold (other precision,
// lowest value or index offset); the message says which.
struct DecodeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ZigZag then LEB128 in at most 9 bytes (the 9th carries 8 bits), as HdrHistogram's
// ZigZagEncoding.putLong.
void zigzag_put(std::string& out, std::int64_t value);
// Reads one word at `at`, advancing it; throws DecodeError past the end.
std::int64_t zigzag_get(std::string_view in, std::size_t& at);

// The uncompressed V2 encoding (cookie 0x1c849313) and the compressed one (0x1c849314).
std::string encode(const Histogram& h);
std::string encode_compressed(const Histogram& h);

// One decoded histogram: its counts, by the index of the shared layout.
struct Decoded {
    std::uint64_t highest_trackable = 0;
    std::vector<std::pair<std::size_t, std::uint64_t>> counts; // non-zero, ascending index
    std::uint64_t total = 0;
};

// Decodes either form. Refuses a compressed input that would inflate beyond what a
// histogram of zlb's layout can need (9 bytes a count), so a hostile file can't make
// the reader allocate more than that.
Decoded decode(std::string_view bytes);

// The counts as a zlb Histogram (tracking up to `max_value`). Values are taken at the
// middle of their bucket as HdrHistogram does for the mean; with exact_max given (the
// interval log's Interval_Max) and inside the top bucket, that bucket is recorded at it,
// so max() is exact again; without it the top bucket is taken at its top. Counts at indices beyond max_value throw DecodeError.
Histogram to_histogram(const Decoded& d, std::optional<std::uint64_t> exact_max = std::nullopt,
                       std::uint64_t max_value = 3'600'000'000ULL);
// The same counts added into h, which is how a merge sums many without a copy each.
void counts_add(Histogram& h, const Decoded& d, std::optional<std::uint64_t> exact_max = std::nullopt);

// Standard base64 with padding, as java.util.Base64 writes it.
std::string base64_encode(std::string_view bytes);
// Throws DecodeError on a character outside the alphabet or a bad length.
std::string base64_decode(std::string_view text);

} // namespace zlb::hdr
