#!/usr/bin/env python3
"""startratio.py LIMIT RUNS A... -- B...: start A and B in turn RUNS times
each (after two warm-up runs of each), print both medians and A/B, and exit
1 when the ratio of the medians is above LIMIT.

Taking turns spreads a burst of load from other processes over both
commands; medians ignore the odd slow run. A ratio, not a time: machines
differ, the two commands share this one.
"""

import os
import statistics
import sys
import time


def once(argv):
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    if status != 0:
        sys.exit(f"{' '.join(argv)}: exit status {os.waitstatus_to_exitcode(status)}")
    return elapsed


def main():
    limit, runs = float(sys.argv[1]), int(sys.argv[2])
    rest = sys.argv[3:]
    split = rest.index("--")
    a, b = rest[:split], rest[split + 1:]
    times = {"a": [], "b": []}
    for i in range(runs + 2):
        for key, argv in (("a", a), ("b", b)):
            elapsed = once(argv)
            if i >= 2:
                times[key].append(elapsed)
    ma, mb = statistics.median(times["a"]), statistics.median(times["b"])
    print(f"{ma:.1f} ms / {mb:.1f} ms = {ma / mb:.2f} (limit {limit}) over {runs} runs each")
    sys.exit(0 if ma / mb <= limit else 1)


if __name__ == "__main__":
    main()
