#!/usr/bin/env python3
"""Measure unc and its peers side by side and write the figures as JSON.

Run by bench/run as the unprivileged user, with the system python3 and the
standard library only. WORK holds what bench/run prepared: `unc` (the frozen
binary), `src/` (the sources plus docopt, byte-compiled), `rootfs/` (the
busybox root every tool starts /bin/true in); the directory of OUT.json,
writable by the user, also takes the OCI bundles and crun's and runc's
state. Nothing here judges a figure:
bench/report.py turns the JSON into bench/results.md and the chart.

    measure.py WORK OUT.json [--quick]
"""

import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

STAGES = ["user_pid", "uts", "mount", "net"]
HYPERFINE = shutil.which("hyperfine")


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------ the tools

class Tool:
    """A launcher and the command line it needs for each stage.

    `commands[stage]` is an argv list that starts /bin/true; "{cmd}" in it is
    replaced by the payload (true, or sleep for the memory figure) and "{id}"
    by a container name unique within one batch (crun and runc need one).
    """

    def __init__(self, name, commands, binary=None, note=None, sleeping=None):
        self.name = name
        self.commands = commands
        self.binary = binary
        self.note = note
        self.sleeping = sleeping or {}   # OCI tools: the payload is in the bundle

    def argv(self, stage, payload=("/bin/true",), ident="b"):
        out = []
        command = self.commands[stage]
        if payload[0] != "/bin/true" and stage in self.sleeping:
            command = self.sleeping[stage]
        for arg in command:
            if arg == "{cmd}":
                out.extend(payload)
            else:
                out.append(arg.replace("{id}", ident))
        return out


def oci_bundle(work, name, rootfs, net, args=("/bin/true",)):
    """An OCI bundle around `rootfs` that does what unc's mount stage does:
    user, PID, UTS, IPC and mount namespaces (plus a network namespace for
    the net stage), hostname unc, /proc, a tmpfs /dev with devpts and shm,
    /sys read-only. No masked or read-only /proc paths, no cgroup mount:
    unc does neither, so the peers are not charged for them."""
    bundle = os.path.join(work, name)
    os.makedirs(bundle, exist_ok=True)
    namespaces = ["pid", "ipc", "uts", "mount", "user"] + (["network"] if net else [])
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted", "ambient")},
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": "unc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "none", "source": "/sys",
             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": os.getuid(), "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": os.getgid(), "size": 1}],
            "namespaces": [{"type": t} for t in namespaces],
        },
    }
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return bundle


def unc_stages(argv):
    """The stages a unc build has, from `unc stages`."""
    try:
        out = subprocess.run(argv + ["stages"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def import_image(unc, rootfs, scratch, notes, name="unc-bench-busybox"):
    """`unc import` of a tarball of `rootfs` into the measuring user's store;
    the image's name, or None (with a note) when this build has no images."""
    import tarfile
    archive = os.path.join(scratch, "rootfs.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    subprocess.run([unc, "rmi", name], capture_output=True)   # an earlier run's
    res = subprocess.run([unc, "import", archive, name], capture_output=True, text=True)
    os.unlink(archive)
    if res.returncode != 0:
        notes.append(f"unc --image not measured: unc import failed: {res.stderr.strip()}")
        return None
    return name


def make_tools(work, scratch, notes):
    rootfs = os.path.join(work, "rootfs")
    state = os.path.join(scratch, "oci-state")
    os.makedirs(state, exist_ok=True)
    src = os.path.join(work, "src", "unc.py")
    py = shutil.which("python3")

    def unc_commands(prefix, label):
        have = unc_stages(prefix)
        commands = {}
        for stage in STAGES:
            if stage not in have:
                notes.append(f"{label}: no stage `{stage}` in this build "
                             f"(it has: {', '.join(have) or 'none'}); skipped")
                continue
            extra = {"mount": ["--rootfs", rootfs],
                     "net": ["--rootfs", rootfs, "--net=none"]}.get(stage, [])
            commands[stage] = prefix + [f"--stage={stage}"] + extra + ["{cmd}"]
        return commands

    tools = [
        Tool("unc", unc_commands([os.path.join(work, "unc")], "dist/unc"),
             binary=os.path.join(work, "unc")),
        Tool("python3 unc.py", unc_commands([py, src], "python3 unc.py")),
        Tool("python3 -S -I unc.py", unc_commands([py, "-S", "-I", src], "python3 -S -I unc.py")),
    ]
    # The same busybox root as an image of the user's store (issue 13): its
    # layer on overlayfs with a fresh upper per run, against --rootfs.
    image = import_image(os.path.join(work, "unc"), rootfs, scratch, notes)
    if image:
        tools.insert(1, Tool("unc --image", {
            stage: [os.path.join(work, "unc"), f"--stage={stage}", f"--image={image}",
                    "--map-root-user", *(["--net=none"] if stage == "net" else []), "{cmd}"]
            for stage in ("mount", "net")}))
    # Another build to compare with in the same run (bench/run --baseline).
    baseline = os.path.join(work, "unc-baseline")
    if os.path.exists(baseline):
        tools.insert(1, Tool("unc baseline", unc_commands([baseline], "baseline"),
                             binary=baseline))

    unshare = shutil.which("unshare")
    if unshare:
        chroot = ["--root", rootfs, "--mount-proc"]
        tools.append(Tool("unshare", {
            "user_pid": [unshare, "-Urpf", "{cmd}"],
            "uts": [unshare, "-Urpfu", "{cmd}"],
            "mount": [unshare, "-Urpfumi"] + chroot + ["{cmd}"],
            "net": [unshare, "-Urpfumin"] + chroot + ["{cmd}"],
        }, binary=unshare, note="mount/net: chroot and a fresh /proc only (no /dev, no pivot_root)"))
    else:
        notes.append("unshare (util-linux) not found; skipped")

    bwrap = shutil.which("bwrap")
    if bwrap:
        base = [bwrap, "--unshare-user", "--unshare-pid"]
        uts = ["--unshare-uts", "--hostname", "unc"]
        root = ["--unshare-ipc", "--bind", rootfs, "/", "--proc", "/proc",
                "--dev", "/dev", "--ro-bind", "/sys", "/sys"]
        tools.append(Tool("bwrap", {
            "user_pid": base + ["--bind", "/", "/", "{cmd}"],
            "uts": base + uts + ["--bind", "/", "/", "{cmd}"],
            "mount": base + uts + root + ["{cmd}"],
            "net": base + uts + ["--unshare-net"] + root + ["{cmd}"],
        }, binary=bwrap))
    else:
        notes.append("bwrap (bubblewrap) not found; skipped")

    bundles = {"mount": oci_bundle(scratch, "bundle", rootfs, net=False),
               "net": oci_bundle(scratch, "bundle-net", rootfs, net=True)}
    sleeping = {"mount": oci_bundle(scratch, "bundle-sleep", rootfs, net=False,
                                    args=("/bin/sleep", "30"))}
    for name in ("crun", "runc"):
        path = shutil.which(name)
        if not path:
            notes.append(f"{name} not found; skipped")
            continue

        def run(bundles):
            return {stage: [path, "--root", state, "run", "-b", bundle, f"{name}-{{id}}"]
                    for stage, bundle in bundles.items()}
        tool = Tool(name, run(bundles), binary=path, sleeping=run(sleeping),
                    note="OCI bundle; always a full container")
        try:
            probe = subprocess.run(tool.argv("mount", ident="probe"), capture_output=True,
                                   text=True, timeout=60)
        except subprocess.TimeoutExpired:
            notes.append(f"{name} hung on a probe run; skipped")
            continue
        if probe.returncode != 0:
            why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
            notes.append(f"{name} cannot start a rootless container here ({why}); skipped")
            continue
        tools.append(tool)
    return tools


# ------------------------------------------------------------ latency

def latency(tools, out_dir, runs, rounds, warmup):
    """Median/min/max wall time of each tool per stage, with hyperfine.

    The commands take turns in `rounds` rounds of runs/rounds runs each, so a
    burst of load from another process on the machine is spread over all
    tools instead of landing on one."""
    per_round = max(1, runs // rounds)
    jobs = [(stage, tool) for stage in STAGES for tool in tools if stage in tool.commands]
    times = {(stage, tool.name): [] for stage, tool in jobs}
    failed = {}
    for r in range(rounds):
        log(f"latency round {r + 1}/{rounds} ({len(jobs)} commands x {per_round} runs)")
        for stage, tool in jobs:
            key = (stage, tool.name)
            if key in failed:
                continue
            path = os.path.join(out_dir, "hf.json")
            argv = [HYPERFINE, "-N", "--style", "none", "--warmup", str(warmup),
                    "--runs", str(per_round), "--export-json", path,
                    shlex.join(tool.argv(stage, ident="lat"))]
            res = subprocess.run(argv, capture_output=True, text=True)
            if res.returncode != 0:
                failed[key] = (res.stderr.strip().splitlines() or ["?"])[-1]
                continue
            with open(path) as f:
                times[key].extend(json.load(f)["results"][0]["times"])
    result = {}
    for (stage, name), values in times.items():
        entry = {"command": shlex.join(
            next(t for t in tools if t.name == name).argv(stage, ident="lat"))}
        if (stage, name) in failed:
            entry["error"] = failed[(stage, name)]
        elif values:
            ms = [v * 1000 for v in values]
            entry.update(runs=len(ms), median=statistics.median(ms), min=min(ms),
                         max=max(ms), mean=statistics.fmean(ms))
        result.setdefault(stage, {})[name] = entry
    return result


# ------------------------------------------------------------ no container

def floor(tools, out_dir, runs, warmup):
    """What each tool pays before any container: `--version` is its start,
    the parse of its command line and its exit. Beside them, Python's own
    start with ctypes, which unc (frozen or not) pays before its first line.
    One hyperfine invocation, so the figures share the machine's state."""
    commands = {f"{t.name} --version": [t.binary, "--version"] for t in tools if t.binary}
    py = shutil.which("python3")
    if py:
        commands["python3 -S -I -c 'import ctypes'"] = [py, "-S", "-I", "-c", "import ctypes"]
    log(f"start without a container ({len(commands)} commands x {runs} runs)")
    return hyperfine(commands, os.path.join(out_dir, "hf-floor.json"), runs, warmup)


def hyperfine(commands, path, runs, warmup, prepare=None):
    """{name: median, min and max in ms} of one hyperfine invocation over
    `commands` ({name: argv}), so the figures share the machine's state;
    `prepare` (argv) runs before each run, untimed."""
    argv = [HYPERFINE, "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
            *(("--prepare", shlex.join(prepare)) if prepare else ()),
            "--export-json", path, *map(shlex.join, commands.values())]
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    with open(path) as f:
        found = json.load(f)["results"]
    result = {}
    for name, entry in zip(commands, found):
        ms = [v * 1000 for v in entry["times"]]
        result[name] = {"command": entry["command"], "runs": len(ms),
                        "median": statistics.median(ms), "min": min(ms), "max": max(ms)}
    return result


# ------------------------------------------------------------ --map-auto

def subordinate_range():
    """The measuring user's first range in /etc/subuid and /etc/subgid, or None."""
    import pwd
    name = pwd.getpwuid(os.getuid()).pw_name
    found = []
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                lines = [line.strip().split(":") for line in f]
        except OSError:
            return None
        match = [l for l in lines if len(l) == 3 and l[0] in (name, str(os.getuid()))]
        if not match:
            return None
        found.append((int(match[0][1]), int(match[0][2])))
    return found


def helper_pair(ranges, runs):
    """What newuidmap and newgidmap cost: both run for a process waiting in a
    new user namespace, as unc runs them, timed from the parent; ms each run."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    helpers = [shutil.which(h) or f"/usr/bin/{h}" for h in ("newuidmap", "newgidmap")]
    times = []
    for _ in range(runs):
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(w)
            libc.unshare(0x10000000)                       # CLONE_NEWUSER
            os.read(r, 1)
            os._exit(0)
        os.close(r)
        time.sleep(0.002)                                   # let it unshare
        start = time.perf_counter()
        for helper, own, (first, count) in zip(helpers, (os.getuid(), os.getgid()), ranges):
            pid = os.posix_spawn(helper, [helper, str(child), "0", str(own), "1",
                                          "1", str(first), str(count)], os.environ)
            os.waitpid(pid, 0)
        times.append((time.perf_counter() - start) * 1000)
        os.close(w)
        os.waitpid(child, 0)
    return times


def map_auto(work, out_dir, runs, warmup):
    """--map-auto against the plain start of the same stage, and what the two
    helper executions alone take."""
    ranges = subordinate_range()
    if ranges is None:
        return {"error": "the measuring user has no range in /etc/subuid and /etc/subgid"}
    unc = os.path.join(work, "unc")
    commands = {"unc --stage=user_pid": [unc, "--stage=user_pid", "/bin/true"],
                "unc --stage=user_pid --map-auto": [unc, "--stage=user_pid", "--map-auto",
                                                    "/bin/true"],
                "unc --stage=mount --map-auto": [unc, "--stage=mount", "--map-auto", "--rootfs",
                                                 os.path.join(work, "rootfs"), "/bin/true"]}
    log(f"--map-auto ({len(commands)} commands x {runs} runs)")
    result = hyperfine(commands, os.path.join(out_dir, "hf-map-auto.json"), runs, warmup)
    if "error" in result:
        return result
    pair = helper_pair(ranges, runs)
    result["newuidmap + newgidmap"] = {"command": "both helpers for a waiting process",
                                       "median": statistics.median(pair),
                                       "min": min(pair), "max": max(pair)}
    result["podman"] = shutil.which("podman") and "installed, not measured" or "not installed"
    return result


# ------------------------------------------------------------ -d

def detached(work, out_dir, runs, warmup):
    """A detached start (issue 15): `unc -d` from its start to its return,
    once the command has been executed, beside the foreground start of the
    same container, which returns once the command has ended and been
    cleaned up. Both at --stage=mount with the busybox root. Before each
    run, untimed, 0.2 s pass: the monitor of the run before goes on in the
    background (it reaps the command, cleans up and records the status),
    and would otherwise take the next run's cores. The state goes to a
    directory of its own, removed afterwards."""
    unc = os.path.join(work, "unc")
    rootfs = os.path.join(work, "rootfs")
    state = os.path.join(out_dir, "detach-state")
    os.makedirs(state, mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = state
    commands = {"unc --stage=mount": [unc, "--stage=mount", "--rootfs", rootfs, "/bin/true"],
                "unc -d --stage=mount": [unc, "-d", "--stage=mount", "--rootfs", rootfs,
                                         "/bin/true"]}
    log(f"-d ({len(commands)} commands x {runs} runs)")
    try:
        return hyperfine(commands, os.path.join(out_dir, "hf-detach.json"), runs, warmup,
                         prepare=["sleep", "0.2"])
    finally:
        del os.environ["XDG_RUNTIME_DIR"]
        time.sleep(1)                       # the last monitors finish
        shutil.rmtree(state, ignore_errors=True)


# ------------------------------------------------------------ harden

def harden(tools, work, out_dir, runs, warmup):
    """The default start (stage harden: capabilities, the seccomp filter,
    no_new_privs, masks, fds) beside --privileged, which turns them off, and
    crun's net bundle, in one hyperfine invocation (issue 14)."""
    unc = os.path.join(work, "unc")
    if "harden" not in unc_stages([unc]):
        return {"error": "this build has no harden stage"}
    rootfs = os.path.join(work, "rootfs")
    commands = {"unc (default)": [unc, "--rootfs", rootfs, "/bin/true"],
                "unc --privileged": [unc, "--privileged", "--rootfs", rootfs, "/bin/true"]}
    crun = next((t for t in tools if t.name == "crun"), None)
    if crun:
        commands["crun"] = crun.argv("net", ident="harden")
    log(f"harden ({len(commands)} commands x {runs} runs)")
    return hyperfine(commands, os.path.join(out_dir, "hf-harden.json"), runs, warmup)


# ------------------------------------------------------------ throughput

def _spawn(argv):
    return os.posix_spawn(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])


def in_a_row(tool, stage, count):
    start = time.perf_counter()
    for i in range(count):
        _, status = os.waitpid(_spawn(tool.argv(stage, ident=f"s{i}")), 0)
        if status != 0:
            raise RuntimeError(f"exit status {os.waitstatus_to_exitcode(status)}")
    return count / (time.perf_counter() - start)


def at_once(tool, stage, count):
    start = time.perf_counter()
    pids = [_spawn(tool.argv(stage, ident=f"p{i}")) for i in range(count)]
    bad = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        bad += status != 0
    if bad:
        raise RuntimeError(f"{bad} of {count} failed")
    return count / (time.perf_counter() - start)


def stage_for(tool, stage):
    """`stage`, or for crun and runc (full containers only) their mount."""
    if stage in tool.commands:
        return stage
    return "mount" if "mount" in tool.commands else None


def throughput(tools, main_stage, row, together, repeats):
    result = {}
    for tool in tools:
        stage = stage_for(tool, main_stage)
        if stage is None or tool.name == "python3 unc.py":
            continue
        log(f"throughput: {tool.name}")
        entry = {"stage": stage}
        try:
            in_a_row(tool, stage, 5)                          # warm-up
            entry["in_a_row"] = statistics.median(
                in_a_row(tool, stage, row) for _ in range(repeats))
            entry["at_once"] = statistics.median(
                at_once(tool, stage, together) for _ in range(repeats))
        except RuntimeError as e:
            entry["error"] = str(e)
        result[tool.name] = entry
    return result


# ------------------------------------------------------------ memory

def _children(pid):
    """Children of every thread: a Go program (runc) forks from any thread."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise OSError(f"no Pss in /proc/{pid}/smaps_rollup")


def resident(tool, stage):
    """PSS of the launcher's own host-side processes while the container
    runs `sleep`: every process of the tree started by the tool, minus the
    sleep (which is the container's, not the launcher's)."""
    # The sleep is killed at the end: launchers may complain about that.
    proc = subprocess.Popen(tool.argv(stage, payload=("/bin/sleep", "30"), ident="mem"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    payload = None
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            own, payload, stack = [], None, [proc.pid]
            while stack:
                pid = stack.pop()
                if _comm(pid) == "sleep":
                    payload = pid
                    continue
                own.append(pid)
                stack.extend(_children(pid))
            if payload:
                break
            time.sleep(0.005)
        else:
            raise RuntimeError("the container's sleep never started")
        time.sleep(0.3)                       # let start-up garbage settle
        return sum(_pss_kib(pid) for pid in own), [_comm(p) for p in own]
    finally:
        if payload:
            os.kill(payload, signal.SIGKILL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def memory(tools, main_stage, repeats):
    result = {}
    for tool in tools:
        stage = stage_for(tool, main_stage)
        if stage is None:
            continue
        log(f"memory: {tool.name}")
        try:
            samples = [resident(tool, stage) for _ in range(repeats)]
        except (RuntimeError, OSError) as e:
            result[tool.name] = {"stage": stage, "error": str(e)}
            continue
        result[tool.name] = {"stage": stage,
                             "pss_kib": statistics.median(s[0] for s in samples),
                             "processes": samples[0][1]}
    return result


# ------------------------------------------------------------ first start

def first_start(tools, scratch, runs):
    """The first start of a build: `--version` with an empty cache
    directory (UNC_CACHE_DIR), so the launcher unpacks the whole build
    before unc runs. Each unc build in turn, `runs` times; ms."""
    builds = [t for t in tools if t.name in ("unc", "unc baseline")]
    times = {t.name: [] for t in builds}
    log(f"first start ({len(builds)} builds x {runs} runs, each into an empty cache)")
    for n in range(runs):
        for tool in builds:
            cache = os.path.join(scratch, f"first-start-{n}")
            env = dict(os.environ, UNC_CACHE_DIR=cache)
            start = time.perf_counter()
            res = subprocess.run([tool.binary, "--version"], env=env, capture_output=True)
            elapsed = (time.perf_counter() - start) * 1000
            shutil.rmtree(cache, ignore_errors=True)
            if res.returncode != 0:
                return {"error": f"{tool.name}: {res.stderr.decode().strip()}"}
            times[tool.name].append(elapsed)
    return {name: {"runs": len(ms), "median": statistics.median(ms), "min": min(ms),
                   "max": max(ms)} for name, ms in times.items() if ms}


# ------------------------------------------------------------ the run

def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def main():
    work, out = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    runs, rounds, warmup = (10, 2, 1) if quick else (60, 5, 3)
    row, together, repeats = (40, 10, 1) if quick else (200, 50, 3)
    started = time.time()
    notes = []
    if not HYPERFINE:
        sys.exit("bench: hyperfine is missing (apt-get install hyperfine)")
    tools = make_tools(work, os.path.dirname(out), notes)
    main_stage = next((s for s in ("mount", "net", "uts", "user_pid")
                       if s in tools[0].commands), None)
    if main_stage != "mount":
        notes.append(f"throughput and memory use stage {main_stage}: "
                     "dist/unc has no mount stage yet")
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    result = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "kernel": os.uname().release,
            "cpus": os.cpu_count(),
            "user": f"uid {os.getuid()}",
            "load_before": load_before,
            "quick": quick,
            "runs": runs, "rounds": rounds, "warmup_per_round": warmup,
            "in_a_row": row, "at_once": together, "repeats": repeats,
            "versions": {
                "unc": version([os.path.join(work, "unc"), "--version"]),
                "python3": version(["python3", "--version"]),
                "hyperfine": version([HYPERFINE, "--version"]),
                **{t.name: version([t.binary, "--version"]) for t in tools
                   if t.binary and t.name != "unc"},
            },
            "tool_notes": {t.name: t.note for t in tools if t.note},
        },
        "notes": notes,
        "latency": latency(tools, os.path.dirname(out), runs, rounds, warmup),
        "floor": floor(tools, os.path.dirname(out), runs, warmup),
        "map_auto": map_auto(work, os.path.dirname(out), runs, warmup),
        "detached": detached(work, os.path.dirname(out), runs, warmup),
        "harden": harden(tools, work, os.path.dirname(out), runs, warmup),
        "first_start": first_start(tools, os.path.dirname(out), 5 if quick else 20),
        "throughput": throughput(tools, main_stage, row, together, repeats),
        "memory": memory(tools, main_stage, repeats),
        "size": {t.name: os.path.getsize(os.path.realpath(t.binary))
                 for t in tools if t.binary},
    }
    with open("/proc/loadavg") as f:
        result["meta"]["load_after"] = f.read().split()[:3]
    result["meta"]["seconds"] = round(time.time() - started)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"done in {result['meta']['seconds']} s")


if __name__ == "__main__":
    main()
