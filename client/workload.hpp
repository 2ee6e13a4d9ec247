#pragma once
// What the client sends: the i-th request of a run, encoded on demand so memory does
// not grow with the number of requests. Items come from --input lines, --random
// numbers or --count echoes; --repeat cycles them; --batch groups factor items. With
// cycle (--duration) the items repeat without end and the client decides when to stop.
// Factor and fetch inputs skip blank lines and # comments; for echo every non-empty
// line is a payload as it is, # and spaces included.
#include "factor/u128.hpp"
#include "proto/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zlb::client {

struct WorkloadSettings {
    proto::Op op = proto::Op::echo;
    std::string input; // file of numbers, URLs or echo payloads; "-" for stdin
    // The input's text when main has read it already (stdin, read before the signals
    // are blocked, so that Ctrl-C still works while a terminal is being read).
    std::optional<std::string> input_text;
    std::size_t repeat = 1;
    std::size_t count = 0;      // echo requests when there is no input
    std::size_t size = 16;      // echo payload bytes
    std::size_t random = 0;     // random numbers to factor
    unsigned bits = 64;         // their size in bits
    bool semiprimes = false;    // products of two primes of bits/2 each
    std::uint64_t seed = 1;
    std::size_t batch = 1;      // numbers per factor request
    proto::FetchParams fetch;   // url is filled per request
    std::optional<std::uint32_t> deadline_ms;
    bool cycle = false;         // total() is unbounded; --repeat is ignored
};

class Workload {
public:
    // Reads the input; throws std::runtime_error with a one-line reason on bad input.
    explicit Workload(WorkloadSettings settings);

    std::size_t total() const { return total_; } // SIZE_MAX when cycling
    proto::Op op() const { return settings_.op; }
    // Encodes request `index` with wire id `id` into buf; ns receives the numbers sent
    // (factor only), which the reply is checked against.
    void encode(std::size_t index, std::uint64_t id, msgpack::sbuffer& buf, std::vector<u128>& ns);
    // The URL (fetch) or payload (echo) behind request `index`.
    std::string_view text(std::size_t index) const;
    // The numbers request `index` carries (factor), as encode() sends them.
    void numbers(std::size_t index, std::vector<u128>& ns) const;
    // The --input line number (from 1) of request `index`'s first item; 0 without input.
    std::size_t line_of(std::size_t index) const;

private:
    u128 number(std::size_t item) const;
    std::size_t items() const;

    WorkloadSettings settings_;
    std::vector<std::string> lines_;
    std::vector<std::size_t> line_numbers_; // of each of lines_ in the input
    std::vector<u128> numbers_;
    std::string payload_;
    std::size_t total_ = 0;
};

// A random prime of exactly `bits` bits (2..127), drawn from rng state `state`.
u128 random_prime(unsigned bits, std::uint64_t& state);

} // namespace zlb::client
