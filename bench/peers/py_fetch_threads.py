#!/usr/bin/python3
"""I/O peer: a ThreadPoolExecutor with urllib, as in the seeds (000: 64 threads for 500 link
checks; 004: urllib.request.urlopen in threads).

    py_fetch_threads.py [--threads N] FILE

FILE holds one URL per line. Output, one key=value per line: fetches ok failed threads elapsed_s
"""
import argparse
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            resp.read()
            return resp.status == 200
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("file")
    a = ap.parse_args()
    with open(a.file) as f:
        urls = [line.strip() for line in f if line.strip()]
    with ThreadPoolExecutor(a.threads) as pool:
        start = time.perf_counter()
        results = list(pool.map(fetch, urls))
        elapsed = time.perf_counter() - start
    ok = sum(results)
    print(f"fetches={len(urls)}\nok={ok}\nfailed={len(urls) - ok}\nthreads={a.threads}\n"
          f"elapsed_s={elapsed:.6f}")


if __name__ == "__main__":
    main()
