#!/usr/bin/python3
"""The seed's CPU task on a multiprocessing.Pool: the naive recursive factorization of
"Parallel processing in Python" (seed 002), spread over one process per core.

    py_factor_pool.py [--processes P] FILE

FILE holds one number per line. The pool is started before the clock starts (in the peer's
favour); the clock covers pool.map over all numbers with the default chunksize.
Output, one key=value per line: numbers processes elapsed_s numbers_per_s
"""
import argparse
import multiprocessing
import os
import time


def factors(result, n):
    # Verbatim from the seed: try every i from 2 upwards, recurse on n // i.
    if n <= 1:
        return result
    for i in range(2, n + 1):
        if n % i == 0:
            result.append(i)
            return factors(result, n // i)


def factorize(n):
    return factors([], n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=os.cpu_count())
    ap.add_argument("file")
    a = ap.parse_args()
    with open(a.file) as f:
        numbers = [int(line) for line in f if line.strip()]
    with multiprocessing.Pool(a.processes) as pool:
        pool.map(factorize, [4] * a.processes)  # workers up before the clock starts
        start = time.perf_counter()
        results = pool.map(factorize, numbers)
        elapsed = time.perf_counter() - start
    for n, fs in zip(numbers, results):
        prod = 1
        for p in fs:
            prod *= p
        assert prod == n or n <= 1, (n, fs)
    print(f"numbers={len(numbers)}\nprocesses={a.processes}\nelapsed_s={elapsed:.6f}\n"
          f"numbers_per_s={len(numbers) / elapsed:.1f}")


if __name__ == "__main__":
    main()
