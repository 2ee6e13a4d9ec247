#!/usr/bin/python3
"""I/O peer: asyncio + aiohttp, as in the seeds (004 "Going asynchronous", 003 "Parallelism
shootout"), with a semaphore bounding the requests in flight.

    py_fetch_asyncio.py [--concurrency N] FILE

FILE holds one URL per line. One ClientSession for all requests, its connector without a
connection limit of its own (aiohttp's default of 100 would cap the semaphore), keep-alive on.
Output, one key=value per line: fetches ok failed concurrency elapsed_s
"""
import argparse
import asyncio
import time

import aiohttp


async def fetch(session, sem, url):
    async with sem:
        try:
            async with session.get(url) as resp:
                await resp.read()
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False


async def run(urls, concurrency):
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        results = await asyncio.gather(*(fetch(session, sem, u) for u in urls))
        return time.perf_counter() - start, results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("file")
    a = ap.parse_args()
    with open(a.file) as f:
        urls = [line.strip() for line in f if line.strip()]
    elapsed, results = asyncio.run(run(urls, a.concurrency))
    ok = sum(results)
    print(f"fetches={len(urls)}\nok={ok}\nfailed={len(urls) - ok}\nconcurrency={a.concurrency}\n"
          f"elapsed_s={elapsed:.6f}")


if __name__ == "__main__":
    main()
