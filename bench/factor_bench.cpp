// zlb-factor-bench: times zlb::factorize against GNU coreutils `factor` on the same numbers.
//
//   zlb-factor-bench [--count N] [--bits B] [--seed S] [--below X] [--input FILE] [--pari]
//                    [--print] [--gnu-timeout SEC] [--no-gnu]
//
// By default the workload is N semiprimes, each the product of two random primes of B/2 bits
// (top bit set, so the product has B or B-1 bits). With --below X it is instead N uniform random
// integers in [1, X), the naive workload of the original seed (--below 30000 --count 50000).
// With --input FILE it is the numbers in FILE, one decimal number a line, any size up to 2^128-1.
//
// zlb's figures are per number, in thread CPU time: zlb_mean_us, zlb_median_us, zlb_max_us.
// With --pari, PARI/GP (`gp -q`, one process, so its start-up is paid once) factors the same
// numbers with factorint; gp reads the file itself and times the loop with getabstime (CPU
// milliseconds, over the whole loop), so pari_mean_us excludes its start-up and parsing.
//
// zlb runs single-threaded in this process, and every result is verified (the factors multiply
// back to n and each is prime). GNU factor, if it is on PATH, gets all numbers on stdin in one
// process, so its per-number figure includes one process start-up spread over N numbers.
// Output is one key=value per line for scripts.
#include "core/clock.hpp"
#include "core/unique_fd.hpp"
#include "factor/factor.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

using zlb::u128;
using zlb::Clock;

struct Options {
    unsigned long count = 10000;
    unsigned bits = 64;
    unsigned long long seed = 20240601;
    unsigned long long below = 0; // 0: semiprime mode
    unsigned gnu_timeout = 300;
    bool gnu = true;
    bool pari = false;
    bool print = false; // one "n: p1 p2 ..." line per number, for the oracle tests
    std::string input; // empty: generate
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--count N] [--bits B] [--seed S] [--below X] [--gnu-timeout SEC] "
                 "[--no-gnu] [--input FILE] [--pari] [--print]\n"
                 "  B in [4, 128]: semiprimes of two random B/2-bit primes\n"
                 "  --below X: N random integers in [1, X) instead\n"
                 "  --input FILE: the numbers in FILE (one a line, up to 2^128-1) instead\n"
                 "  --pari: also time PARI/GP's factorint on the same numbers (gp -q)\n"
                 "  --print: also print each factorization as `n: p1 p2 ...` (untimed)\n",
                 argv0);
    std::exit(2);
}

unsigned long long parse_number(const char* argv0, const char* text) {
    const auto v = zlb::parse_u128(text);
    if (!v || *v > ~0ull) usage(argv0);
    return static_cast<unsigned long long>(*v);
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&] {
            if (i + 1 >= argc) usage(argv[0]);
            return parse_number(argv[0], argv[++i]);
        };
        if (arg == "--count")
            o.count = value();
        else if (arg == "--bits")
            o.bits = static_cast<unsigned>(value());
        else if (arg == "--seed")
            o.seed = value();
        else if (arg == "--below")
            o.below = value();
        else if (arg == "--gnu-timeout")
            o.gnu_timeout = static_cast<unsigned>(value());
        else if (arg == "--no-gnu")
            o.gnu = false;
        else if (arg == "--pari")
            o.pari = true;
        else if (arg == "--print")
            o.print = true;
        else if (arg == "--input" && i + 1 < argc)
            o.input = argv[++i];
        else
            usage(argv[0]);
    }
    if (!o.input.empty()) return o;
    if (o.count == 0 || (o.below == 0 && (o.bits < 4 || o.bits > 128)) || o.below == 1)
        usage(argv[0]);
    return o;
}

u128 random_bits(std::mt19937_64& rng, unsigned bits) {
    u128 x = (u128(rng()) << 64) | rng();
    if (bits < 128) x &= (u128(1) << bits) - 1;
    return x | (u128(1) << (bits - 1)); // exactly `bits` bits
}

u128 random_prime(std::mt19937_64& rng, unsigned bits) {
    for (;;) {
        const u128 p = random_bits(rng, bits) | 1;
        if (zlb::is_prime(p)) return p;
    }
}

std::vector<u128> read_numbers(const std::string& path) {
    std::vector<u128> numbers;
    zlb::UniqueFile f(std::fopen(path.c_str(), "r"));
    if (!f) {
        std::fprintf(stderr, "cannot open %s\n", path.c_str());
        std::exit(2);
    }
    char line[128];
    while (std::fgets(line, sizeof line, f.get()) != nullptr) {
        std::string_view text(line);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
            text.remove_suffix(1);
        if (text.empty()) continue;
        const auto v = zlb::parse_u128(text);
        if (!v || *v == 0) {
            std::fprintf(stderr, "%s: not a number in [1, 2^128): %.*s\n", path.c_str(),
                         static_cast<int>(text.size()), text.data());
            std::exit(2);
        }
        numbers.push_back(*v);
    }
    if (numbers.empty()) {
        std::fprintf(stderr, "%s: no numbers\n", path.c_str());
        std::exit(2);
    }
    return numbers;
}

std::vector<u128> make_numbers(const Options& o) {
    if (!o.input.empty()) return read_numbers(o.input);
    std::mt19937_64 rng(o.seed);
    std::vector<u128> numbers;
    numbers.reserve(o.count);
    for (unsigned long i = 0; i < o.count; ++i) {
        if (o.below != 0) {
            numbers.push_back(1 + rng() % (o.below - 1));
        } else {
            const unsigned a = o.bits / 2;
            numbers.push_back(random_prime(rng, a) * random_prime(rng, o.bits - a));
        }
    }
    return numbers;
}

bool verify(u128 n, const std::vector<u128>& factors) {
    u128 product = 1;
    for (std::size_t i = 0; i < factors.size(); ++i) {
        if (!zlb::is_prime(factors[i])) return false;
        if (i > 0 && factors[i] < factors[i - 1]) return false;
        product *= factors[i];
    }
    return product == n;
}

// This thread's CPU time in microseconds. zlb's per-number figures use it, as gp's getabstime
// does, so that on a shared machine neither side is charged for time it spent descheduled.
double thread_cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// The numbers in a new temporary file, one a line; its path, or empty on failure.
std::string write_numbers(const std::vector<u128>& numbers) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/zlb-factor-XXXXXX";
    const int fd = mkstemp(path.data());
    if (fd < 0) return {};
    zlb::UniqueFile f(fdopen(fd, "w"));
    if (!f) {
        ::close(fd);
        std::remove(path.c_str());
        return {};
    }
    for (u128 n : numbers)
        std::fprintf(f.get(), "%s\n", zlb::to_string_u128(n).c_str());
    return path;
}

// Seconds for `factor < file > /dev/null`, or a negative value if it failed or timed out.
double time_gnu_factor(const std::vector<u128>& numbers, unsigned timeout_s) {
    const std::string path = write_numbers(numbers);
    if (path.empty()) return -1;
    // `timeout` is part of coreutils too, so it is there whenever factor is.
    const std::string cmd =
        "timeout " + std::to_string(timeout_s) + " factor < '" + path + "' > /dev/null 2>&1";
    const auto t0 = Clock::now();
    const int rc = std::system(cmd.c_str());
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::remove(path.c_str());
    return rc == 0 ? seconds : -1;
}

// Microseconds per number for PARI/GP's factorint over `path`, timed inside gp; negative if gp
// failed.
double time_pari(const std::string& path, std::size_t count) {
    const std::string cmd = "echo 'v = readvec(\"" + path +
                            "\"); t = getabstime(); for (i = 1, #v, factorint(v[i])); "
                            "print(getabstime() - t)' | gp -q -f 2>/dev/null";
    struct PipeCloser {
        void operator()(std::FILE* f) const { pclose(f); }
    };
    const std::unique_ptr<std::FILE, PipeCloser> pipe(popen(cmd.c_str(), "r"));
    if (!pipe) return -1;
    char line[64] = {};
    const bool got = std::fgets(line, sizeof line, pipe.get()) != nullptr;
    if (!got) return -1;
    return std::strtod(line, nullptr) * 1e3 / static_cast<double>(count);
}

bool have_gnu_factor() {
    return std::system("command -v factor > /dev/null 2>&1") == 0;
}

} // namespace

int main(int argc, char** argv) {
    const Options o = parse_options(argc, argv);
    const std::vector<u128> numbers = make_numbers(o);
    if (!o.input.empty())
        std::printf("workload=input\ninput=%s\n", o.input.c_str());
    else if (o.below != 0)
        std::printf("workload=below\nbelow=%llu\n", o.below);
    else
        std::printf("workload=semiprime\nbits=%u\n", o.bits);
    std::printf("count=%zu\nseed=%llu\n", numbers.size(), o.seed);

    std::vector<u128> factors;
    std::size_t failures = 0;
    std::vector<double> micros;
    micros.reserve(numbers.size());
    for (u128 n : numbers) {
        const double t0 = thread_cpu_us();
        zlb::factorize(n, factors);
        micros.push_back(thread_cpu_us() - t0);
        if (!verify(n, factors)) ++failures; // verification is not timed
        if (o.print) {
            std::printf("%s:", zlb::to_string_u128(n).c_str());
            for (u128 f : factors)
                std::printf(" %s", zlb::to_string_u128(f).c_str());
            std::printf("\n");
        }
    }
    double zlb_seconds = 0;
    for (double us : micros)
        zlb_seconds += us / 1e6;
    const double zlb_us = zlb_seconds * 1e6 / static_cast<double>(numbers.size());
    std::sort(micros.begin(), micros.end());
    const std::size_t half = micros.size() / 2;
    const double median =
        micros.size() % 2 ? micros[half] : (micros[half - 1] + micros[half]) / 2;
    std::printf("zlb_total_s=%.6f\nzlb_us_per_number=%.3f\nzlb_mean_us=%.3f\nzlb_median_us=%.3f\n"
                "zlb_max_us=%.3f\nzlb_failures=%zu\n",
                zlb_seconds, zlb_us, zlb_us, median, micros.back(), failures);

    if (o.pari) {
        std::string path = o.input;
        bool temporary = false;
        if (path.empty()) {
            path = write_numbers(numbers);
            temporary = true;
        }
        const double pari_us = path.empty() ? -1 : time_pari(path, numbers.size());
        if (temporary && !path.empty()) std::remove(path.c_str());
        if (pari_us < 0)
            std::printf("pari=failed\n");
        else
            std::printf("pari_mean_us=%.3f\npari_ratio=%.3f\n", pari_us, zlb_us / pari_us);
    }
    if (!o.gnu) {
        std::printf("gnu_factor=skipped\n");
    } else if (!have_gnu_factor()) {
        std::printf("gnu_factor=not_found\n");
    } else {
        const double gnu_seconds = time_gnu_factor(numbers, o.gnu_timeout);
        if (gnu_seconds < 0) {
            std::printf("gnu_factor=failed_or_timeout\ngnu_factor_timeout_s=%u\n", o.gnu_timeout);
        } else {
            const double gnu_us = gnu_seconds * 1e6 / static_cast<double>(numbers.size());
            std::printf("gnu_factor_total_s=%.6f\ngnu_factor_us_per_number=%.3f\nspeedup=%.2f\n",
                        gnu_seconds, gnu_us, gnu_us / zlb_us);
        }
    }
    return failures == 0 ? 0 : 1;
}
