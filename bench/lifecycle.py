#!/usr/bin/env python3
"""The OCI lifecycle of one bundle, timed for each runtime: create, start,
wait for the container to stop, delete (issue 15). Run by bench/lifecycle,
once as the unprivileged user and once as root; standard library only.

    lifecycle.py measure WORK ROOTFS NAME=PATH... [--runs N] [--rounds R]
    lifecycle.py report [--unc-build TEXT] ROOTLESS.json ROOT.json > SECTION.md

`measure` writes WORK/result.json. It makes a bundle in WORK (the busybox
root ROOTFS and the config.json that `runc spec` makes, `--rootless`
unless we are root, its process `true` without a terminal and without
ambient capabilities) and runs, for
every runtime in turn,
`R --root STATE create --bundle B --pid-file P ID`, `R --root STATE start
ID`, a wait for P's process to end (a pidfd polled, the same for every
runtime: no runtime's own `state` is asked, whose start would be counted),
and `R --root STATE delete ID`. Each cycle's steps are timed from here, the
runtimes taking turns in rounds so that a burst of load from elsewhere is
spread over all of them. A runtime whose first cycle fails is left out
with its message (a unc build without `create` says so).

`report` turns the two JSON files into the section bench/lifecycle puts in
bench/results.md: medians per runtime and step, and ratios to crun and
runc of the same run.
"""

import json
import os
import select
import signal
import statistics
import subprocess
import sys
import time

STEPS = ("create", "start", "wait", "delete")


class Failed(Exception):
    pass


def log(message):
    print(f"bench/lifecycle: {message}", file=sys.stderr, flush=True)


def make_bundle(work, rootfs, runc):
    """WORK/bundle with the config.json of `runc spec` (rootless unless we
    are root: a user namespace mapping root to our uid), the process `true`
    (busybox's, found on the spec's PATH) without a terminal."""
    bundle = os.path.join(work, "bundle")
    os.makedirs(bundle, exist_ok=True)
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        os.unlink(path)
    argv = [runc, "spec", "--bundle", bundle] + (["--rootless"] if os.getuid() else [])
    subprocess.run(argv, check=True)
    with open(path) as f:
        config = json.load(f)
    config["process"]["args"] = ["true"]
    config["process"]["terminal"] = False
    # The process runs as uid 0, which gets its capabilities at exec from
    # the bounding set anyway: the ambient set changes nothing for it. unc
    # (the oci branch at 76dbcfb) fails to raise ambient capabilities
    # without an inheritable set and never runs the process (docs/oci.md),
    # so the spec's ambient list goes, for every runtime alike.
    config["process"]["capabilities"].pop("ambient", None)
    config["root"]["path"] = rootfs
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return bundle


def spawn(argv, err, timeout=30):
    """Run argv with stdin and stdout on /dev/null, stderr into `err`;
    its exit status. The container created inherits these: no pipe that
    anyone has to drain. A step that takes more than `timeout` seconds is
    killed and fails the cycle: a hung runtime must not hang the bench."""
    err.seek(0)
    err.truncate()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
    fd = os.pidfd_open(pid)
    try:
        if not select.select([fd], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise Failed(f"`{argv[3] if len(argv) > 3 else argv[0]}` still ran after "
                         f"{timeout} s (killed)")
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def wait_gone(pid_file):
    """Until the process named in pid_file has ended (exited; it need not
    be reaped: whoever its parent is does that)."""
    with open(pid_file) as f:
        pid = int(f.read().strip())
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return                          # already gone and reaped
    try:
        if not select.select([fd], [], [], 30)[0]:
            raise Failed(f"the container's process {pid} still runs after 30 s")
    finally:
        os.close(fd)


def cycle(runtime, state, bundle, ident, err, said):
    """One create, start, wait, delete; the seconds of each step. The
    container inherits create's stderr, `said`: `true` writes nothing, so
    anything there is the runtime failing to start it (a `start` that
    exits 0 and a process that never ran must not count as a cycle)."""
    base = [runtime, "--root", state]
    pid_file = os.path.join(state, f"{ident}.pid")
    times = []

    def step(argv, stderr=err):
        start = time.perf_counter()
        if spawn(base + argv, stderr):
            stderr.seek(0)
            message = stderr.read().decode(errors="replace").strip().splitlines()
            raise Failed(f"`{' '.join(argv[:1])}` failed: "
                         f"{message[-1] if message else 'no message'}")
        times.append(time.perf_counter() - start)

    step(["create", "--bundle", bundle, "--pid-file", pid_file, ident], said)
    try:
        step(["start", ident])
        start = time.perf_counter()
        wait_gone(pid_file)
        times.append(time.perf_counter() - start)
        said.seek(0)
        message = said.read().decode(errors="replace").strip().splitlines()
        if message:
            raise Failed(f"the container's `true` did not run: {message[-1]}")
        step(["delete", ident])
    except Failed:
        try:
            spawn(base + ["delete", "--force", ident], err)
        except Failed:
            pass                        # the first failure is the one to tell
        raise
    finally:
        if os.path.exists(pid_file):
            os.unlink(pid_file)
    return times


def version(runtime):
    try:
        out = subprocess.run([runtime, "--version"], capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def measure(work, rootfs, runtimes, runs, rounds):
    bundle = make_bundle(work, rootfs, runtimes.get("runc", "runc"))
    err = open(os.path.join(work, "stderr"), "w+b")
    said = open(os.path.join(work, "stderr-container"), "w+b")
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    result = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                       "kernel": os.uname().release, "uid": os.getuid(),
                       "load_before": load_before, "runs": runs, "rounds": rounds,
                       "versions": {n: version(p) for n, p in runtimes.items()}},
              "runtimes": {}, "notes": []}
    live = {}
    for name, path in runtimes.items():
        state = os.path.join(work, f"state-{name}")
        os.makedirs(state, exist_ok=True)
        try:
            for n in range(2):                                  # probe, warm-up
                cycle(path, state, bundle, f"warm-{n}", err, said)
        except Failed as e:
            why = str(e)
            if "create: command not found" in why:     # unc's answer to an unknown command
                why = "this build has no OCI `create` command (issue 15's oci/ not in it)"
            result["notes"].append(f"{name}: skipped, {why}")
            log(f"{name}: skipped, {why}")
            continue
        live[name] = (path, state)
    samples = {name: [] for name in live}
    per_round = max(1, runs // rounds)
    for r in range(rounds):
        log(f"round {r + 1}/{rounds}: {', '.join(live)} x {per_round}")
        for name, (path, state) in list(live.items()):
            try:
                for n in range(per_round):
                    samples[name].append(cycle(path, state, bundle, f"b{r}-{n}", err, said))
            except Failed as e:
                result["notes"].append(f"{name}: stopped in round {r + 1}, {e}")
                del live[name]
    for name, cycles in samples.items():
        if not cycles:
            continue
        entry = {"cycles": len(cycles)}
        for i, step in enumerate(STEPS):
            entry[step] = statistics.median(c[i] * 1000 for c in cycles)
        totals = [sum(c) * 1000 for c in cycles]
        entry.update(median=statistics.median(totals), min=min(totals), max=max(totals))
        result["runtimes"][name] = entry
    with open("/proc/loadavg") as f:
        result["meta"]["load_after"] = f.read().split()[:3]
    with open(os.path.join(work, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


def report(paths):
    build = None
    if paths[:1] == ["--unc-build"]:
        build, paths = paths[1], paths[2:]
    parts = [json.load(open(p)) for p in paths]
    print("## OCI lifecycle: create + start + delete of a bundle (issue 15, bench/lifecycle)")
    print()
    print("One bundle: the busybox root of tests/mkrootfs and the config.json of "
          "`runc spec` (`--rootless` for the unprivileged user; the root one as root), "
          "its process `true`, no terminal, no ambient capabilities (they change nothing "
          "for uid 0, and unc does not run the process with them: docs/oci.md). A cycle is `create --bundle B --pid-file P ID`, "
          "`start ID`, a wait for P's process to end (a pidfd, the same for every "
          "runtime), `delete ID`, each step timed by the caller. The runtimes take turns "
          "in rounds, after two cycles of warm-up each, in a private mount namespace where "
          "an empty tmpfs hides /sys/fs/cgroup/unified from all of them (crun 1.8 refuses a "
          "hybrid layout). Medians in ms; ratios divide the cycle's median by the peer's "
          "of the same run (lower is faster).")
    print()
    if build:
        print(f"- unc: {build}")
    for part in parts:
        meta = part["meta"]
        who = "root" if meta["uid"] == 0 else f"uid {meta['uid']}, rootless"
        versions = "; ".join(f"{n}: {v}" for n, v in meta["versions"].items())
        print(f"- as {who}: {meta['date']}, Linux {meta['kernel']}, {meta['runs']} cycles "
              f"per runtime in {meta['rounds']} rounds; load average before "
              f"{' '.join(meta['load_before'])}, after {' '.join(meta['load_after'])}; "
              f"{versions}")
    busy = [p["meta"]["load_before"][0] for p in parts if float(p["meta"]["load_before"][0]) >= 1]
    if busy:
        print()
        print(f"**The machine was not quiet** (load average {', '.join(busy)} before a "
              "measure, from other work on its 2 CPUs): the milliseconds are inflated "
              "and noisy; the ratios of the same run are what carries over.")
    print()
    print("| as | runtime | cycle median | min | max | create | start | wait | delete "
          "| x crun | x runc |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for part in parts:
        who = "root" if part["meta"]["uid"] == 0 else "rootless"
        found = part["runtimes"]
        for name, e in found.items():
            ratios = [f"{e['median'] / found[p]['median']:.2f}x" if p in found else "n/a"
                      for p in ("crun", "runc")]
            print(f"| {who} | {name} | {e['median']:.1f} | {e['min']:.1f} | {e['max']:.1f} | "
                  + " | ".join(f"{e[s]:.1f}" for s in STEPS) + " | " + " | ".join(ratios)
                  + " |")
        notes += [f"{who}: {n}" for n in part["notes"]]
    print()
    for note in notes:
        print(f"- {note}")
    if notes:
        print()


def main():
    if sys.argv[1:2] == ["report"]:
        report(sys.argv[2:])
        return
    if sys.argv[1:2] != ["measure"] or len(sys.argv) < 5:
        sys.exit(__doc__)
    work, rootfs = sys.argv[2:4]
    runtimes, runs, rounds = {}, 40, 5
    args = iter(sys.argv[4:])
    for arg in args:
        if arg == "--runs":
            runs = int(next(args))
        elif arg == "--rounds":
            rounds = int(next(args))
        else:
            name, _, path = arg.partition("=")
            runtimes[name] = path
    measure(work, rootfs, runtimes, runs, rounds)


if __name__ == "__main__":
    main()
