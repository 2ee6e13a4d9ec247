"""Scenario 8: factorization by size. Balanced semiprimes (two random primes of half the size)
at 40, 64, 80, 96, 112 and 128 bits, factored by zlb's library in one thread
(zlb-factor-bench --input), by PARI/GP's factorint (--pari: one `gp -q` process, timed inside gp)
and by GNU `factor` (one process, where it finishes within its timeout), on the same file in the
same invocation, ctx.runs times in turn."""
import random
import shutil

from common import alternate, keyvals, log, med, random_prime, row, run, write_lines

TITLE = "Factorization by size (zlb vs PARI/GP vs GNU factor)"
SEED = 20261201
SIZES = (40, 64, 80, 96, 112, 128)
GNU_MAX_BITS = 80  # GNU factor needs ~30 ms per 80-bit semiprime, ~0.5 s at 96, far more above
GNU_TIMEOUT_S = 120


def scenario(ctx):
    rng = random.Random(SEED)
    counts = {40: ctx.pick(200, 2000), 64: ctx.pick(200, 2000), 80: ctx.pick(40, 400),
              96: ctx.pick(20, 200), 112: ctx.pick(10, 100), 128: ctx.pick(10, 100)}
    files = {b: write_lines(ctx.path(f"semiprimes{b}.txt"),
                            (random_prime(b // 2, rng) * random_prime(b - b // 2, rng)
                             for _ in range(counts[b]))) for b in SIZES}
    have_pari = shutil.which("gp") is not None

    def bench(bits):
        args = [ctx.exe("zlb-factor-bench"), "--input", files[bits]]
        if have_pari:
            args.append("--pari")
        if bits > GNU_MAX_BITS or shutil.which("factor") is None:
            args.append("--no-gnu")
        else:
            args += ["--gnu-timeout", GNU_TIMEOUT_S]
        kv = keyvals(run(args, timeout_s=1800).stdout)
        assert kv.get("zlb_failures") == 0, kv
        return kv

    rows, detail, results = [], [], {}
    for bits in SIZES:
        log(f"{counts[bits]} semiprimes of {bits} bits")
        results[bits] = alternate(ctx, [(f"{bits} bits", lambda: bench(bits))])[f"{bits} bits"]
        r = results[bits]
        zlb_mean, pari = med(r, "zlb_mean_us"), med(r, "pari_mean_us")
        gnu = med(r, "gnu_factor_us_per_number")
        ratio = zlb_mean / pari if pari else None
        goal = 0.5 if bits in (96, 128) else 1.0
        rows.append(row(f"{bits}-bit semiprimes: zlb mean vs PARI/GP factorint", "us", zlb_mean,
                        "PARI/GP", pari, target=f"zlb/peer < {goal}" if goal == 1.0
                        else f"zlb/peer <= {goal}",
                        met=None if ratio is None else ratio <= goal, better="lower"))
        if gnu is not None:
            rows.append(row(f"{bits}-bit semiprimes: zlb mean vs GNU factor", "us", zlb_mean,
                            "GNU factor", gnu, better="lower"))
        detail.append({"bits": bits, "count": counts[bits], "zlb_mean_us": zlb_mean,
                       "zlb_median_us": med(r, "zlb_median_us"), "zlb_max_us": med(r, "zlb_max_us"),
                       "pari_mean_us": pari, "gnu_us": gnu, "ratio_pari": ratio})
    top = detail[-1]
    spread = top["zlb_max_us"] / top["zlb_mean_us"] if top["zlb_mean_us"] else None
    rows.append(row("128-bit semiprimes: zlb max / zlb mean", "x", spread, "the set's mean", 1.0,
                    target="<= 10", met=None if spread is None else spread <= 10,
                    better="lower", ratio_value=spread))
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["bits", "count", "zlb_mean_us", "zlb_median_us", "zlb_max_us",
                               "pari_mean_us", "gnu_us", "ratio_pari"], "rows": detail},
        "config": {
            "workload": f"balanced semiprimes, Python random.Random({SEED}), counts {counts}",
            "zlb": "zlb-factor-bench --input FILE --pari: zlb::factorize in one thread, each "
                   "number timed in thread CPU time and verified",
            "PARI/GP": "gp -q: readvec(FILE), factorint on each, getabstime (CPU time) around "
                       "the loop",
            "GNU factor": f"coreutils factor, all numbers on stdin, up to {GNU_MAX_BITS} bits, "
                          f"timeout {GNU_TIMEOUT_S} s",
        },
        "runs": {str(b): v for b, v in results.items()},
        "notes": ["Figures are medians over the runs; the machine is shared, so read the "
                  "ratios, which come from the same invocation."],
    }
