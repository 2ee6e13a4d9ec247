"""The thorough oracle set (label `slow`): 40 random numbers at every size from 2 to 128 bits,
200 balanced semiprimes each at 72, 80, 96, 112 and 128 bits and the edge cases, against
PARI/GP; see test_factor_oracle.py. About 20 s in a Release build, so scripts/test.sh (CI's
Release run) runs it; the sanitizer run leaves the `slow` label out."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from test_factor_oracle import run_oracle, thorough_numbers  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_oracle(thorough_numbers()))
