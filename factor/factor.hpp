#pragma once
// Integer factorization up to 2^128-1: trial division, deterministic Miller-Rabin,
// Pollard-Brent rho and Lenstra ECM in Montgomery arithmetic, and above 2^64 the
// self-initialising quadratic sieve.
#include "factor/u128.hpp"

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace zlb {

// Thrown out of factorize when its Budget has expired.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("factorization cancelled") {}
};

// Stops a long factorization. factorize charges the budget with its work as it goes, in units of
// about one modular multiplication, and asks expired() only once every kCheckEvery units (about
// 0.2 ms of 64-bit work, 0.7 ms of 128-bit work), so an implementation may read a clock. Charges
// accumulate across calls: one budget can span a whole batch of numbers. A budget belongs to one
// thread at a time.
class Budget {
public:
    static constexpr std::uint64_t kCheckEvery = std::uint64_t(1) << 16;

    // Counts units of work; asks expired() when kCheckEvery units have accumulated since it last
    // did, and throws Cancelled when it says so.
    void charge(std::uint64_t units) {
        if (units < left_) {
            left_ -= units;
            return;
        }
        poll();
    }
    // Asks expired() now; throws Cancelled when it says so.
    void poll() {
        left_ = kCheckEvery;
        ++polls_;
        if (expired()) throw Cancelled();
    }
    // How many times expired() has been asked.
    std::uint64_t polls() const { return polls_; }

protected:
    Budget() = default;
    Budget(const Budget&) = default;
    Budget& operator=(const Budget&) = default;
    ~Budget() = default;
    virtual bool expired() = 0;

private:
    std::uint64_t left_ = kCheckEvery;
    std::uint64_t polls_ = 0;
};

// True when n is prime. Deterministic for every 64-bit n; for larger n a strong
// BPSW-style test with no known counterexample.
bool is_prime(u128 n);

// Appends the prime factors of n to out in ascending order, with multiplicity.
// n == 1 appends nothing. n == 0 is a caller error: it throws std::invalid_argument.
// out is cleared first; passing the same vector again avoids allocation.
void factorize(u128 n, std::vector<u128>& out);

// The same, charging budget for the work (see Budget). Throws Cancelled from the first check
// that finds the budget expired, so at most about kCheckEvery units of work after it expired;
// out then holds an unspecified part of the factors.
void factorize(u128 n, std::vector<u128>& out, Budget& budget);

inline std::vector<u128> factorize(u128 n) {
    std::vector<u128> out;
    factorize(n, out);
    return out;
}

} // namespace zlb
