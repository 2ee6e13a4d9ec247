#include "stats/hdr_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace zlb::hdr {
namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out += char((v >> (8 * i)) & 0xff);
}

std::uint64_t get_be(std::string_view in, std::size_t at, int bytes) {
    if (in.size() < at + bytes) throw DecodeError("histogram encoding: truncated header");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(in[at + i]);
    return v;
}

// Indices of zlb's layout (the default Histogram's), worked out once.
std::size_t layout_indices() {
    static const std::size_t indices = Histogram().index_count();
    return indices;
}

// The most a count array of zlb's layout can take: every count a 9-byte word.
std::size_t max_encoded_bytes() { return kHeaderBytes + 9 * layout_indices(); }

// Inflates a zlib stream into a buffer that grows as needed, never past `bound` bytes.
std::string inflate_bounded(std::string_view in, std::size_t bound) {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) throw std::runtime_error("zlib inflateInit failed");
    struct End {
        z_stream* z;
        ~End() { inflateEnd(z); }
    } end{&z};
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    std::string out(std::min<std::size_t>(bound, std::max<std::size_t>(4096, 8 * in.size())), '\0');
    while (true) {
        z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
        z.avail_out = static_cast<uInt>(out.size() - z.total_out);
        const int rc = inflate(&z, Z_FINISH);
        if (rc == Z_STREAM_END) break;
        if (rc != Z_BUF_ERROR && rc != Z_OK) throw DecodeError("histogram encoding: bad zlib stream");
        if (z.avail_out != 0) throw DecodeError("histogram encoding: zlib stream cut short");
        if (out.size() >= bound)
            throw DecodeError("histogram encoding: inflates beyond " + std::to_string(bound) + " bytes");
        out.resize(std::min(bound, out.size() * 2));
    }
    out.resize(z.total_out);
    return out;
}

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

void zigzag_put(std::string& out, std::int64_t value) {
    std::uint64_t v = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
    for (int i = 0; i < 8; ++i) {
        if ((v >> 7) == 0) {
            out += char(v);
            return;
        }
        out += char((v & 0x7f) | 0x80);
        v >>= 7;
    }
    out += char(v); // the 9th byte: the last 8 bits, no continuation bit
}

std::int64_t zigzag_get(std::string_view in, std::size_t& at) {
    std::uint64_t v = 0;
    for (int i = 0; i < 9; ++i) {
        if (at >= in.size()) throw DecodeError("histogram encoding: counts end inside a word");
        const auto b = static_cast<unsigned char>(in[at++]);
        if (i == 8) {
            v |= std::uint64_t(b) << 56;
            break;
        }
        v |= std::uint64_t(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

std::string encode(const Histogram& h) {
    std::string out;
    put_be(out, kV2EncodingCookieBase | kCookieWordSize, 4);
    put_be(out, 0, 4); // payload length, filled in below
    put_be(out, 0, 4); // normalizing index offset
    put_be(out, 3, 4); // significant digits
    put_be(out, 1, 8); // lowest discernible value
    put_be(out, h.max_trackable(), 8);
    put_be(out, std::bit_cast<std::uint64_t>(1.0), 8); // integer to double conversion ratio
    // Counts up to the maximum's index; a run of zeros is one negative word.
    const std::size_t limit = h.value_index(h.max()) + 1;
    for (std::size_t i = 0; i < limit;) {
        const std::uint64_t count = h.count_at(i++);
        std::int64_t zeros = 0;
        if (count == 0) {
            zeros = 1;
            while (i < limit && h.count_at(i) == 0) ++zeros, ++i;
        }
        zigzag_put(out, zeros > 1 ? -zeros : static_cast<std::int64_t>(count));
    }
    const std::uint64_t payload = out.size() - kHeaderBytes;
    for (int b = 0; b < 4; ++b) out[4 + b] = char((payload >> (8 * (3 - b))) & 0xff);
    return out;
}

std::string encode_compressed(const Histogram& h) {
    const std::string plain = encode(h);
    uLongf size = compressBound(plain.size());
    std::string out;
    put_be(out, kV2CompressedCookieBase | kCookieWordSize, 4);
    put_be(out, 0, 4);
    out.resize(8 + size);
    if (compress(reinterpret_cast<Bytef*>(out.data() + 8), &size,
                 reinterpret_cast<const Bytef*>(plain.data()), plain.size()) != Z_OK)
        throw std::runtime_error("zlib compress failed");
    out.resize(8 + size);
    for (int b = 0; b < 4; ++b) out[4 + b] = char((size >> (8 * (3 - b))) & 0xff);
    return out;
}

Decoded decode(std::string_view bytes) {
    const std::uint32_t cookie = static_cast<std::uint32_t>(get_be(bytes, 0, 4));
    const std::uint32_t base = cookie & ~0xf0u;
    if (base == kV2CompressedCookieBase) {
        const std::uint64_t length = get_be(bytes, 4, 4);
        if (length != bytes.size() - 8)
            throw DecodeError("histogram encoding: compressed length " + std::to_string(length) +
                              " but " + std::to_string(bytes.size() - 8) + " bytes follow");
        const std::string plain = inflate_bounded(bytes.substr(8), max_encoded_bytes());
        if ((get_be(plain, 0, 4) & ~0xf0u) == kV2CompressedCookieBase)
            throw DecodeError("histogram encoding: compressed twice");
        return decode(plain);
    }
    if (base != kV2EncodingCookieBase)
        throw DecodeError("histogram encoding: cookie " + std::to_string(cookie) +
                          " is not HdrHistogram V2 (0x1c849303/0x1c849304)");
    if ((cookie & 0xf0u) != kCookieWordSize)
        throw DecodeError("histogram encoding: word size is not ZigZag LEB128");
    const std::uint64_t payload = get_be(bytes, 4, 4);
    if (get_be(bytes, 8, 4) != 0) throw DecodeError("histogram encoding: index offset is not 0");
    if (get_be(bytes, 12, 4) != 3) throw DecodeError("histogram encoding: not 3 significant digits");
    if (get_be(bytes, 16, 8) != 1) throw DecodeError("histogram encoding: lowest value is not 1");
    Decoded d;
    d.highest_trackable = get_be(bytes, 24, 8);
    if (payload != bytes.size() - kHeaderBytes)
        throw DecodeError("histogram encoding: payload length " + std::to_string(payload) +
                          " but " + std::to_string(bytes.size() - kHeaderBytes) + " bytes follow");
    const std::string_view counts = bytes.substr(kHeaderBytes);
    const std::size_t limit = layout_indices();
    std::size_t index = 0;
    for (std::size_t at = 0; at < counts.size();) {
        const std::int64_t word = zigzag_get(counts, at);
        if (word < 0) {
            // A zero run; bounded by the layout so index arithmetic cannot overflow.
            if (std::uint64_t(-(word + 1)) >= limit) throw DecodeError("histogram encoding: zero run too long");
            index += std::size_t(-word);
            continue;
        }
        if (word > 0) {
            if (index >= limit) throw DecodeError("histogram encoding: count beyond the trackable range");
            d.counts.emplace_back(index, std::uint64_t(word));
            if (d.total + std::uint64_t(word) < d.total) throw DecodeError("histogram encoding: total overflows");
            d.total += std::uint64_t(word);
        }
        ++index;
    }
    return d;
}

Histogram to_histogram(const Decoded& d, std::optional<std::uint64_t> exact_max,
                       std::uint64_t max_value) {
    Histogram h(max_value);
    counts_add(h, d, exact_max);
    return h;
}

void counts_add(Histogram& h, const Decoded& d, std::optional<std::uint64_t> exact_max) {
    for (std::size_t k = 0; k < d.counts.size(); ++k) {
        const auto [index, count] = d.counts[k];
        if (index >= h.index_count())
            throw DecodeError("histogram encoding: a count above the largest trackable value");
        const std::uint64_t low = h.index_value(index);
        std::uint64_t value = low + (h.value_highest(low) - low + 1) / 2;
        if (value > h.value_highest(low)) value = h.value_highest(low);
        const bool top = k + 1 == d.counts.size();
        if (top && exact_max && *exact_max >= low && *exact_max <= h.value_highest(low)) {
            // Most of the bucket at its middle; one value at the exact maximum.
            if (count > 1) h.record(std::min(value, *exact_max), count - 1);
            h.record(*exact_max, 1);
        } else {
            // Without the exact maximum, the top bucket is taken at its top, as Java's
            // getMaxValue() reports it: a maximum never reads lower than it was.
            h.record(top ? h.value_highest(low) : value, count);
        }
    }
}

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
        if (i + 1 < bytes.size()) v |= std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8;
        if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[v >> 18 & 63];
        out += kAlphabet[v >> 12 & 63];
        out += i + 1 < bytes.size() ? kAlphabet[v >> 6 & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
    }
    return out;
}

std::string base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) throw DecodeError("base64: length is not a multiple of 4");
    std::array<int, 256> value;
    value.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) value[static_cast<unsigned char>(kAlphabet[i])] = int(i);
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=') throw DecodeError("base64: bad padding");
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + k];
            const int x = k >= 4 - pad ? 0 : value[static_cast<unsigned char>(c)];
            if (x < 0) throw DecodeError("base64: a character outside the alphabet");
            v = v << 6 | std::uint32_t(x);
        }
        out += char(v >> 16);
        if (pad < 2) out += char(v >> 8 & 0xff);
        if (pad < 1) out += char(v & 0xff);
    }
    return out;
}

} // namespace zlb::hdr
