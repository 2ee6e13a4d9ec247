#include "client/workload.hpp"

#include "factor/factor.hpp"

#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace zlb::client {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A random number of exactly `bits` bits: the top bit is always set.
u128 random_bits(unsigned bits, std::uint64_t& state) {
    u128 v = (u128(splitmix64(state)) << 64) | splitmix64(state);
    if (bits < 128) v &= (u128(1) << bits) - 1;
    return v | (u128(1) << (bits - 1));
}

// Numbers and URLs: trimmed, blank lines and # comments skipped. Echo payloads: every
// non-empty line as it is (only the line end, \n or \r\n, is taken off).
void lines_read(const std::string& path, const std::optional<std::string>& text, bool payloads,
                std::vector<std::string>& lines, std::vector<std::size_t>& numbers) {
    std::ifstream file;
    std::istringstream given(text ? *text : std::string());
    if (path != "-" && !text) {
        file.open(path);
        if (!file) throw std::runtime_error("cannot read input file " + path);
    }
    std::istream& in = text ? static_cast<std::istream&>(given)
                            : path == "-" ? std::cin : static_cast<std::istream&>(file);
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (payloads) {
            if (line.empty()) continue;
            lines.push_back(line);
            numbers.push_back(number);
            continue;
        }
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        std::size_t start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        lines.push_back(line.substr(start));
        numbers.push_back(number);
    }
}

std::vector<u128> numbers_parse(const std::vector<std::string>& lines,
                                const std::vector<std::size_t>& line_numbers,
                                const std::string& path) {
    std::vector<u128> out;
    out.reserve(lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
        auto n = parse_u128(lines[i]);
        if (!n || *n == 0)
            throw std::runtime_error(path + ":" + std::to_string(line_numbers[i]) + ": '" +
                                     lines[i] + "' is not a number between 1 and 2^128-1");
        out.push_back(*n);
    }
    return out;
}

} // namespace

u128 random_prime(unsigned bits, std::uint64_t& state) {
    if (bits == 2) return 2 + (splitmix64(state) & 1);
    for (;;) {
        u128 candidate = random_bits(bits, state) | 1;
        if (is_prime(candidate)) return candidate;
    }
}

Workload::Workload(WorkloadSettings settings) : settings_(std::move(settings)) {
    using proto::Op;
    auto& s = settings_;
    if (!s.input.empty()) {
        lines_read(s.input, s.input_text, s.op == Op::echo, lines_, line_numbers_);
        if (lines_.empty()) throw std::runtime_error("input " + s.input + " holds no items");
        if (s.op == Op::factor) numbers_ = numbers_parse(lines_, line_numbers_, s.input);
    } else if (s.op == Op::factor) {
        if (s.random == 0) throw std::runtime_error("factor needs --input FILE or --random N");
        if (s.bits < 2 || s.bits > 128) throw std::runtime_error("--bits must be 2..128");
        if (s.semiprimes && s.bits < 4) throw std::runtime_error("--semiprimes needs --bits >= 4");
    } else if (s.op == Op::fetch) {
        throw std::runtime_error("fetch needs --input FILE of URLs");
    } else if (s.count == 0 && s.cycle) {
        s.count = 1; // every echo item is the same payload: one is enough to cycle
    } else if (s.count == 0) {
        throw std::runtime_error("echo needs --count N or --input FILE");
    }
    payload_.assign(s.size, 'x');
    std::size_t per_request = s.op == Op::factor ? s.batch : 1;
    total_ = s.cycle ? SIZE_MAX : (items() * s.repeat + per_request - 1) / per_request;
}

std::size_t Workload::items() const {
    if (!lines_.empty()) return lines_.size();
    return settings_.op == proto::Op::factor ? settings_.random : settings_.count;
}

u128 Workload::number(std::size_t item) const {
    std::size_t i = item % items();
    if (!numbers_.empty()) return numbers_[i];
    // Seeded per item, so request i always carries the same number whatever the order.
    std::uint64_t state = settings_.seed * 0x9e3779b97f4a7c15ULL + i;
    unsigned bits = settings_.bits;
    if (!settings_.semiprimes) return random_bits(bits, state);
    return random_prime(bits / 2, state) * random_prime(bits - bits / 2, state);
}

std::string_view Workload::text(std::size_t index) const {
    if (lines_.empty()) return payload_;
    return lines_[index % lines_.size()];
}

std::size_t Workload::line_of(std::size_t index) const {
    if (line_numbers_.empty()) return 0;
    std::size_t item = settings_.op == proto::Op::factor ? index * settings_.batch : index;
    return line_numbers_[item % line_numbers_.size()];
}

void Workload::numbers(std::size_t index, std::vector<u128>& ns) const {
    const auto& s = settings_;
    ns.clear();
    if (s.op != proto::Op::factor) return;
    std::size_t first = index * s.batch;
    std::size_t end = s.cycle ? first + s.batch : std::min(first + s.batch, items() * s.repeat);
    for (std::size_t item = first; item < end; ++item) ns.push_back(number(item));
}

void Workload::encode(std::size_t index, std::uint64_t id, msgpack::sbuffer& buf,
                      std::vector<u128>& ns) {
    const auto& s = settings_;
    ns.clear();
    switch (s.op) {
    case proto::Op::echo: proto::encode_echo_request(buf, id, text(index), s.deadline_ms); break;
    case proto::Op::status: proto::encode_status_request(buf, id); break;
    case proto::Op::fetch: {
        proto::FetchParams p = s.fetch;
        p.url = text(index);
        proto::encode_fetch_request(buf, id, p, s.deadline_ms);
        break;
    }
    case proto::Op::factor: {
        numbers(index, ns);
        proto::encode_factor_request(buf, id, ns, s.batch > 1, s.deadline_ms);
        break;
    }
    }
}

} // namespace zlb::client
