// The V2 encoding and the interval log against HdrHistogram's reference: the Java
// library's own bytes (libhdrhistogram-java 2.1.11) are the expected values here.
#include "stats/hdr_codec.hpp"
#include "stats/hlog.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <random>
#include <sstream>
#include <string>

using namespace zlb;

namespace {

std::string hex(std::string_view bytes) {
    std::string out;
    char b[3];
    for (unsigned char c : bytes) {
        std::snprintf(b, sizeof b, "%02x", c);
        out += b;
    }
    return out;
}

std::string zz(std::int64_t v) {
    std::string out;
    hdr::zigzag_put(out, v);
    return hex(out);
}

// What Java's Histogram(3600000000L, 3) with these values wrote (encodeIntoByteBuffer,
// and HistogramLogWriter.outputIntervalHistogram with tag "corrected"):
//   recordValue(1); recordValue(1000); recordValueWithCount(5000, 3); recordValue(123456789)
Histogram reference_histogram() {
    Histogram h;
    h.record(1);
    h.record(1000);
    h.record(5000, 3);
    h.record(123456789);
    return h;
}
constexpr const char* kJavaEncoding =
    "1c8493130000000c0000000000000003000000000000000100000000d693a4003ff0000000000000"
    "0002cb0f02f12306efe90102";
constexpr const char* kJavaLog =
    "#[Histogram log format version 1.3]\n"
    "#[StartTime: 1700000000.123 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n"
    "#[BaseTime: 1700000000.123 (seconds since epoch)]\n"
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
    "Tag=corrected,0.000,1.000,123.470,"
    "HISTFAAAACt42pNpmSzMwMDAwwABzFCaEURcm7yEwf4DVITpND/TR2W29y8ZmQCf5whm\n";

} // namespace

TEST_CASE("ZigZag LEB128 words are HdrHistogram's") {
    CHECK(zz(0) == "00");
    CHECK(zz(-1) == "01");
    CHECK(zz(1) == "02");
    CHECK(zz(63) == "7e");
    CHECK(zz(64) == "8001");
    CHECK(zz(-998) == "cb0f"); // a run of 998 zeros, from the Java bytes above
    // Nine bytes at most: the ninth carries a whole byte.
    CHECK(zz(INT64_MAX) == "feffffffffffffffff");
    CHECK(zz(INT64_MIN) == "ffffffffffffffffff");
    std::mt19937_64 rng(7);
    for (int i = 0; i < 10000; ++i) {
        const auto v = static_cast<std::int64_t>(rng() >> (rng() % 64));
        for (std::int64_t x : {v, -v}) {
            std::string out;
            hdr::zigzag_put(out, x);
            std::size_t at = 0;
            REQUIRE(hdr::zigzag_get(out, at) == x);
            CHECK(at == out.size());
        }
    }
    std::size_t at = 0;
    CHECK_THROWS_AS(hdr::zigzag_get("\x80\x80", at), hdr::DecodeError);
}

TEST_CASE("the encoding equals Java's byte for byte, zero runs included") {
    const std::string mine = hdr::encode(reference_histogram());
    CHECK(hex(mine) == kJavaEncoding);
    CHECK(hex(mine.substr(0, 4)) == "1c849313"); // 0x1c849303 | word size 0x10
    const std::string compressed = hdr::encode_compressed(reference_histogram());
    CHECK(hex(compressed.substr(0, 4)) == "1c849314"); // 0x1c849304 | 0x10
    // Both forms decode to the same counts.
    const auto a = hdr::decode(mine), b = hdr::decode(compressed);
    CHECK(a.counts == b.counts);
    CHECK(a.total == 6);
    CHECK(a.highest_trackable == 3'600'000'000ULL);
}

TEST_CASE("a Java-written interval log reads back with its counts, time and exact max") {
    std::istringstream in(kJavaLog);
    const hdr::Log log = hdr::log_read(in, "java.hlog");
    REQUIRE(log.intervals.size() == 1);
    const auto& iv = log.intervals[0];
    CHECK(iv.tag == "corrected");
    CHECK(iv.start_s == doctest::Approx(1700000000.123));
    CHECK(iv.length_s == doctest::Approx(1.0));
    const Histogram h = iv.histogram();
    const Histogram ref = reference_histogram();
    CHECK(h.count() == 6);
    for (std::size_t i = 0; i < ref.index_count(); ++i) REQUIRE(h.count_at(i) == ref.count_at(i));
    for (double p : {10.0, 20.0, 50.0}) CHECK(h.percentile(p) == ref.percentile(p));
    // Java writes Interval_Max in its default unit (value / 1e6), not zlb's (value / 1000):
    // no exact maximum, so the top bucket reads at its top, as Java's getMaxValue() says.
    CHECK(h.max() == ref.value_highest(123456789));
    CHECK(h.percentile(99) == ref.value_highest(123456789));
}

TEST_CASE("round trip: random latencies keep every count, and the line keeps the exact max") {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> latency(7.0, 1.5);
    Histogram h;
    for (int i = 0; i < 200000; ++i) h.record(static_cast<std::uint64_t>(latency(rng)) + 1);
    const std::string text = hdr::log_header(1'700'000'000'500, "zlb test") +
                             hdr::log_interval("corrected", 2.0, 1.0, h) +
                             hdr::log_interval("uncorrected", 2.0, 1.0, Histogram());
    std::istringstream in(text);
    const hdr::Log log = hdr::log_read(in, "t.hlog");
    REQUIRE(log.intervals.size() == 2);
    CHECK(log.intervals[0].start_s == doctest::Approx(1700000002.5));
    const Histogram back = log.intervals[0].histogram();
    CHECK(back.count() == h.count());
    CHECK(back.max() == h.max());
    for (std::size_t i = 0; i < h.index_count(); ++i) REQUIRE(back.count_at(i) == h.count_at(i));
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) CHECK(back.percentile(p) == h.percentile(p));
    CHECK(back.mean() == doctest::Approx(h.mean()).epsilon(0.001));
    CHECK(log.intervals[1].tag == "uncorrected");
    CHECK(log.intervals[1].histogram().count() == 0);
}

TEST_CASE("malformed input gets a clear error, never a crash or a huge allocation") {
    const std::string good = hdr::encode_compressed(reference_histogram());
    CHECK_THROWS_WITH_AS(hdr::decode("\x1c\x84\x93\x99" + good.substr(4)), doctest::Contains("cookie"),
                         hdr::DecodeError);
    CHECK_THROWS_AS(hdr::decode(good.substr(0, good.size() - 3)), hdr::DecodeError);
    CHECK_THROWS_AS(hdr::decode(good.substr(0, 6)), hdr::DecodeError);
    // A zlib bomb: a valid header over megabytes of zero words inflates past the bound.
    std::string plain = hdr::encode(Histogram()).substr(0, hdr::kHeaderBytes) + std::string(4 << 20, '\0');
    uLongf size = compressBound(plain.size());
    std::string bomb(8 + size, '\0');
    REQUIRE(compress(reinterpret_cast<Bytef*>(bomb.data() + 8), &size,
                     reinterpret_cast<const Bytef*>(plain.data()), plain.size()) == Z_OK);
    bomb.resize(8 + size);
    const std::uint32_t cookie = hdr::kV2CompressedCookieBase | hdr::kCookieWordSize;
    for (int b = 0; b < 4; ++b) {
        bomb[b] = char(cookie >> (8 * (3 - b)));
        bomb[4 + b] = char(size >> (8 * (3 - b)));
    }
    CHECK_THROWS_WITH_AS(hdr::decode(bomb), doctest::Contains("inflates beyond"), hdr::DecodeError);
    CHECK_THROWS_AS(hdr::decode(plain), hdr::DecodeError); // payload length mismatch
    // A stream cut short, its length field made to match.
    std::string cut = good.substr(0, good.size() - 4);
    const std::uint32_t cut_length = std::uint32_t(cut.size() - 8);
    for (int b = 0; b < 4; ++b) cut[4 + b] = char(cut_length >> (8 * (3 - b)));
    CHECK_THROWS_AS(hdr::decode(cut), hdr::DecodeError);
    CHECK_THROWS_AS(hdr::base64_decode("abc"), hdr::DecodeError);
    CHECK_THROWS_AS(hdr::base64_decode("ab!d"), hdr::DecodeError);
    CHECK(hdr::base64_decode(hdr::base64_encode("hello!?")) == "hello!?");
    for (const char* text : {"Tag=x\n", "Tag=x,1,2\n", "Tag=x,a,1,1,AAAA\n", "1,1,1,@@@@\n",
                             "#[StartTime: soon]\n"}) {
        std::istringstream in(text);
        CHECK_THROWS_WITH_AS(hdr::log_read(in, "bad.hlog"), doctest::Contains("bad.hlog:1:"),
                             hdr::LogError);
    }
}

TEST_CASE("mutated encodings decode or throw DecodeError, nothing else") {
    Histogram h;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 5000; ++i) h.record(rng() % 100000 + 1);
    std::size_t decoded = 0, refused = 0;
    for (const std::string& good : {hdr::encode(h), hdr::encode_compressed(h)}) {
        for (int round = 0; round < 3000; ++round) {
            std::string bad = good;
            const int flips = 1 + int(rng() % 4);
            for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = char(rng());
            if (rng() % 4 == 0) bad.resize(rng() % bad.size());
            try {
                const auto d = hdr::decode(bad);
                Histogram back = hdr::to_histogram(d);
                CHECK(back.count() == d.total);
                ++decoded;
            } catch (const hdr::DecodeError&) {
                ++refused;
            }
        }
    }
    CHECK(refused > 0);
    CHECK(decoded + refused == 6000);
}
