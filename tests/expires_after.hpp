#pragma once
// A factorization budget for tests of cancellation (test_factor, test_factor_siqs).
#include "factor/factor.hpp"

#include <cstdint>

// Expires at its k-th check; never when k is 0. Counts the checks either way.
class ExpiresAfter final : public zlb::Budget {
public:
    explicit ExpiresAfter(std::uint64_t k) : k_(k) {}

private:
    bool expired() override { return k_ != 0 && polls() >= k_; }
    std::uint64_t k_;
};
