"""zlb's factorizations against PARI/GP's factorint, the oracle, on the same numbers.

zlb-factor-bench --input FILE --print factors each number (and checks its own answer); one
`gp -q` process factors the same file. Every line must match exactly: the same primes, in
ascending order, with multiplicity.

This file is the CI sample (default label): a few random numbers at every size from 2 to 128
bits, balanced semiprimes at the sieve's sizes and the edge cases. test_factor_oracle_slow.py
runs the thorough set (label `slow`) through the same code.
Exit code 77 (skipped) when gp is not installed.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from zlbtest import BIN_DIR  # noqa: E402
from zlbutil import is_prime, random_prime  # noqa: E402

BENCH = os.path.join(BIN_DIR, "zlb-factor-bench")
SEED = 20261201


def semiprime(bits, rng):
    return random_prime(bits // 2, rng) * random_prime(bits - bits // 2, rng)


def random_numbers(per_size, rng):
    """per_size uniform numbers of exactly b bits for every b in 2..128."""
    return [rng.getrandbits(b) | (1 << (b - 1)) for b in range(2, 129) for _ in range(per_size)]


def carmichael(bits, rng):
    """(6k+1)(12k+1)(18k+1) with all three prime: a Carmichael number of about `bits` bits."""
    while True:
        k = rng.getrandbits(max(2, (bits - 11) // 3))
        a, b, c = 6 * k + 1, 12 * k + 1, 18 * k + 1
        if all(is_prime(x) for x in (a, b, c)) and a * b * c < 2 ** 128:
            return a * b * c


def edge_cases(rng):
    top = 2 ** 128
    cases = [1, 2, 3, 4, 6, 8, 9, 25, 27, 1024 * 1024, 2 ** 64, 2 ** 127, 3 ** 80, 5 ** 55]
    cases += [top - k for k in range(1, 40)]                     # 2^128-1 and its neighbours
    cases += [2 ** 127 + d for d in (-1, 1, 3)] + [2 ** 64 + d for d in (-1, 1, 3)]
    cases += [2 ** 64 - 59, 2 ** 64 - 83, 2 ** 128 - 159, 2 ** 128 - 173]  # primes just below
    # Squares and higher prime powers.
    for bits in (11, 20, 32, 33, 40, 63, 64):
        p = random_prime(bits, rng)
        cases += [p * p] + ([p ** 3] if 3 * bits <= 128 else [])
    cases += [random_prime(21, rng) ** 6, random_prime(13, rng) ** 9, 1031 ** 12]
    cases += [random_prime(30, rng) ** 2 * random_prime(40, rng),
              random_prime(33, rng) ** 2 * random_prime(33, rng) * random_prime(28, rng)]
    # Three and more primes near the ECM / SIQS crossover (64..72 bits) and above it.
    for bits in (21, 22, 23, 24, 30, 40):
        cases.append(random_prime(bits, rng) * random_prime(bits, rng) * random_prime(bits, rng))
    cases.append(random_prime(17, rng) * random_prime(17, rng) * random_prime(17, rng) *
                 random_prime(17, rng))
    # Carmichael numbers and strong pseudoprimes to many bases.
    cases += [561, 41041, 825265, 321197185, 5394826801, 232250619601, 9746347772161]
    cases += [carmichael(bits, rng) for bits in (64, 80, 100, 120, 127)]
    cases += [3825123056546413051,            # strong pseudoprime to bases 2..23
              318665857834031151167461,       # ... to bases 2..37
              3317044064679887385961981,      # ... to bases 2..37
              2152302898747, 3474749660383, 341550071728321]
    # Every factor below the factor base's largest prime (so inside it).
    small = [p for p in range(1025, 9000) if is_prime(p)]
    for count in (7, 10, 12):
        n = 1
        for p in rng.sample(small, count):
            n *= p
        cases.append(n)
    return [n for n in cases if 1 <= n < top]


def ci_numbers():
    rng = random.Random(SEED)
    numbers = random_numbers(4, rng)
    for bits in (66, 72, 80, 96, 112, 128):
        numbers += [semiprime(bits, rng) for _ in range(3)]
    return numbers + edge_cases(rng)


def thorough_numbers():
    rng = random.Random(SEED + 1)
    numbers = random_numbers(40, rng)
    for bits in (72, 80, 96, 112, 128):
        numbers += [semiprime(bits, rng) for _ in range(200)]
    return numbers + edge_cases(rng)


GP_SCRIPT = ('v = readvec("{path}"); for (i = 1, #v, F = factorint(v[i]); s = Str(v[i], ":"); '
             'for (j = 1, #F~, for (e = 1, F[j, 2], s = Str(s, " ", F[j, 1]))); print(s))\n')


def run_oracle(numbers):
    gp = shutil.which("gp")
    if gp is None:
        print("gp (pari-gp) not installed: skipped")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "numbers.txt")
        with open(path, "w") as f:
            f.write("".join(f"{n}\n" for n in numbers))
        zlb = subprocess.run([BENCH, "--input", path, "--print", "--no-gnu"], capture_output=True,
                             text=True, timeout=1200)
        assert zlb.returncode == 0, f"zlb-factor-bench failed ({zlb.returncode}): {zlb.stderr}"
        oracle = subprocess.run([gp, "-q", "-f"], input=GP_SCRIPT.format(path=path),
                                capture_output=True, text=True, timeout=1200)
        assert oracle.returncode == 0, f"gp failed: {oracle.stderr}"
    ours = [line for line in zlb.stdout.splitlines() if ":" in line and "=" not in line]
    theirs = [line.rstrip() for line in oracle.stdout.splitlines() if line.strip()]
    assert len(theirs) == len(numbers), f"gp answered {len(theirs)} of {len(numbers)}"
    assert len(ours) == len(numbers), f"zlb answered {len(ours)} of {len(numbers)}"
    wrong = [(a, b) for a, b in zip(ours, theirs) if a.rstrip() != b]
    for a, b in wrong[:10]:
        print(f"zlb {a}\ngp  {b}")
    assert not wrong, f"{len(wrong)} of {len(numbers)} factorizations differ from PARI/GP"
    print(f"{len(numbers)} factorizations match PARI/GP")
    return 0


if __name__ == "__main__":
    sys.exit(run_oracle(ci_numbers()))
