#!/usr/bin/env python3
"""bench_csv_pandas.py FILE — the pandas side of bench_csv: times one
pandas.read_csv(FILE) (default options; gzip inferred from the .gz suffix)
and prints one line

    pandas seconds=S maxrss_kb=K baseline_kb=B rows=R cols=C

where maxrss_kb is this process's peak resident set (it includes the Python
interpreter and the pandas/numpy imports, baseline_kb is that part measured
before the read). Run it with the system python3 (/usr/bin/python3), which
has python3-pandas.
"""
import resource
import sys
import time

import pandas


def main():
    if len(sys.argv) != 2:
        print("usage: bench_csv_pandas.py FILE", file=sys.stderr)
        return 2
    path = sys.argv[1]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    frame = pandas.read_csv(path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("pandas seconds=%.6f maxrss_kb=%d baseline_kb=%d rows=%d cols=%d"
          % (seconds, peak, baseline, frame.shape[0], frame.shape[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
