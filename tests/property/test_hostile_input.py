"""Hostile input on unc's command line (issue 14): for each target, an
option or subcommand with values Hypothesis makes, very long, empty,
non-UTF-8, full of control characters or nearly valid, unc either runs the
command or exits 125 with exactly one line on stderr that starts `unc: `;
never a traceback, never output of its own on stdout, and never a process,
mount, interface or temporary file left behind (conftest.Leftovers).

Adding an option is one line in TARGETS: its name, the strategy of its
values, and the options it needs beside it.
"""

import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "500"))
TIMEOUT = 30            # seconds for one run; hitting it fails the example

# --------------------------------------------------------------- values

# Bytes an argv word may hold: anything but NUL (execve(2) ends a word there).
_byte = st.integers(1, 255).map(lambda b: bytes([b]))
_control = st.sampled_from([bytes([c]) for c in list(range(1, 32)) + [127]])
_text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                max_size=30).map(lambda s: s.encode())


def _words(pieces, max_size=12):
    return st.lists(pieces, max_size=max_size).map(b"".join)


def hostile():
    """Any word: empty, random bytes (non-UTF-8), text, control characters,
    and very long runs (up to 30 000 bytes, so the four that a value joins
    at most stay under the kernel's 128 KiB limit for one argument)."""
    return st.one_of(
        st.just(b""),
        _words(_byte, 40),
        _text,
        _words(_control, 8),
        st.builds(lambda piece, n: (piece * n)[:n],
                  st.sampled_from([b"a", b"/", b":", b"\xff", b"../", b"\n", b"%s", b"="]),
                  st.integers(1000, 30000)),
    )


def joined(*parts, sep=b":"):
    """Nearly valid: pieces that may each be valid or hostile, joined."""
    return st.tuples(*parts).map(lambda t: sep.join(t))


def either(*valid):
    return st.one_of(st.sampled_from([v.encode() for v in valid]), hostile())


def paths(*valid):
    return st.one_of(st.sampled_from([v.encode() for v in valid]),
                     hostile().map(lambda b: b"/" + b), hostile())


PORT = st.one_of(st.integers(-70000, 70000).map(lambda n: str(n).encode()), hostile())
IP = either("127.0.0.1", "0.0.0.0", "::1", "[::1]", "999.1.1.1", "localhost")

VOLUME_SRC = "{scratch}/vol"       # filled in per run: a directory that exists

# option: (its values, the options it needs). "{rootfs}" and "{scratch}" are
# the busybox root and the session's scratch directory.
ROOT = ("--rootfs", "{rootfs}")
TARGETS = {
    "-v": (st.one_of(joined(paths(VOLUME_SRC), paths("/mnt", "/a/b")),
                     joined(paths(VOLUME_SRC), paths("/mnt"), either("ro", "rw", "")),
                     hostile()), ROOT),
    "-p": (st.one_of(joined(PORT, PORT), joined(IP, PORT, PORT),
                     st.tuples(joined(PORT, PORT), either("tcp", "udp", "sctp", ""))
                     .map(lambda t: b"/".join(t)), hostile()), ROOT),
    "--hostname": (hostile(), ROOT),
    "-e": (st.one_of(joined(hostile(), hostile(), sep=b"="), hostile()), ROOT),
    "--env-file": (paths("{scratch}/vol", "/etc/passwd", "/dev/null", "/nonexistent"), ROOT),
    "--user": (st.one_of(joined(either("root", "0", "nobody", "65534", "4294967295"),
                                either("root", "0", "-1")), hostile()), ROOT),
    "-w": (paths("/", "/tmp/x", "/etc/passwd", "/proc/x"), ROOT),
    "--tmpfs": (paths("/mnt", "/t", "/proc", "/dev/x"), ROOT),
    "--net": (either("none", "host", "slirp4netns", "pasta", "auto", "bridge"), ROOT),
    "--image": (either("busybox", "busybox:latest", "a@sha256:00", "docker.io/library/x:1"), ()),
    "--cap-add": (either("NET_ADMIN", "CAP_SYS_ADMIN", "ALL", "all", "cap_chown", "CAP_"), ROOT),
    "--cap-drop": (either("NET_RAW", "CAP_CHOWN", "ALL", "sys_admin", "CAP_NOPE"), ROOT),
    "--seccomp": (paths("unconfined", "{scratch}/vol", "/dev/null", "/nonexistent"), ROOT),
    "--ulimit": (st.one_of(joined(either("nofile", "nproc", "core", "stack", "cpu"),
                                  joined(either("1024", "0", "-1", "unlimited", "1e9",
                                                "18446744073709551616"),
                                         either("2048", "1", "unlimited")), sep=b"="),
                           hostile()), ROOT),
}
# Options whose value names a file: half the examples write the drawn
# content into a file of the session's and give its path instead.
FILE_CONTENTS = {
    "--env-file": st.lists(st.one_of(joined(hostile(), hostile(), sep=b"="), hostile()),
                           max_size=5).map(b"\n".join),
    "--seccomp": st.one_of(
        hostile(),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(["defaultAction", "syscalls", "names",
                                                         "action", "args", "architectures",
                                                         "errnoRet", "x"]), inner, max_size=4),
                     max_leaves=12).map(lambda v: json.dumps(v).encode())),
}
# Any mix of options, each with a value drawn as for its own target or a
# hostile one (a missing value would take the next option as its value and
# leave that one's value as COMMAND). --help, --version
# and --json-status-fd answer on stdout; --trace and --debug add lines to
# stderr: they stay out.
FLAGS = ["--init", "--read-only", "--bind-proc", "--map-auto", "--clearenv", "-q",
         "--privileged"]
MIXED_OPTIONS = list(TARGETS) + ["--rootfs", "--persist", "--pids-limit", "--memory", "--cpus",
                                 "--preserve-fds", "--name"]


def mixed():
    def value(option):
        if option in FLAGS:
            return st.just([option])
        own = TARGETS.get(option, (hostile(),))[0]
        return st.one_of(own, hostile()).map(lambda v: [option, v])
    return st.lists(st.sampled_from(MIXED_OPTIONS + FLAGS).flatmap(value), min_size=1,
                    max_size=4).map(lambda words: [w for pair in words for w in pair])


# Subcommands whose argument is an image name (a store of the session's,
# empty), or a container's (the session's XDG_RUNTIME_DIR holds none). `unc pull` runs in a network namespace with only lo (unshare -rn):
# a name that looks valid then fails at once, as with no registry reachable.
SUBCOMMANDS = {
    "pull": ("unshare", "-rn"),
    "rmi": (),
    "rm": (),               # container names (none exists in the session)
    "logs": (),
}
IMAGE_NAME = st.one_of(hostile(), joined(hostile(), hostile(), sep=b"/"),
                       joined(either("127.0.0.1:1", "docker.io", "a"), hostile(), sep=b"/"))


def _shard(names):
    """This process's share of names: PROPERTY_SHARD=I/N takes every Nth."""
    index, _, count = os.environ.get("PROPERTY_SHARD", "0/1").partition("/")
    return [n for i, n in enumerate(names) if i % int(count) == int(index)]


# --------------------------------------------------------------- checks

def run_unc(unc_env, argv, prefix=()):
    places = {b"{%s}" % k.encode(): unc_env[k].encode() for k in ("rootfs", "scratch")}

    def fill(word):
        word = word.encode() if isinstance(word, str) else word
        for place, value in places.items():
            word = word.replace(place, value)
        return word
    words = [fill(w) for w in argv]
    try:
        result = subprocess.run([*prefix, unc_env["unc"].encode(), *words],
                                stdin=subprocess.DEVNULL, capture_output=True,
                                env=unc_env["env"], timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"unc ran for more than {TIMEOUT} s: {words!r:.300}")
    return result


def check(unc_env, result, argv, ran=(0,)):
    shown = repr(argv)[:400]
    err = result.stderr
    assert b"Traceback" not in err, f"a traceback for {shown}:\n{err.decode(errors='replace')}"
    assert result.stdout == b"", f"output on stdout for {shown}: {result.stdout[:200]!r}"
    if result.returncode == 125:
        assert err.startswith(b"unc: ") and err.endswith(b"\n") and err.count(b"\n") == 1, \
            f"not one 'unc: ' line for {shown}: {err[:600]!r}"
    else:
        assert result.returncode in ran, \
            f"status {result.returncode} for {shown}: {err[:600]!r}"
        assert err == b"", f"unc said something on success for {shown}: {err[:600]!r}"
    problems = unc_env["leftovers"].check()
    assert not problems, f"after {shown}: {'; '.join(problems)}"


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("option", _shard(list(TARGETS)))
@SETTINGS
@given(data=st.data())
def test_option(unc_env, option, data):
    values, needs = TARGETS[option]
    value = data.draw(values, label="value")
    if option.startswith("--") and data.draw(st.booleans(), label="joined with ="):
        words = [option.encode() + b"=" + value]
    else:
        words = [option, value]
    if option in FILE_CONTENTS and data.draw(st.booleans(), label="hostile file"):
        path = os.path.join(unc_env["scratch"], "file")
        with open(path, "wb") as f:
            f.write(data.draw(FILE_CONTENTS[option], label="contents"))
        words = [option, path]
    argv = [*needs, *words, "--", "true"]
    check(unc_env, run_unc(unc_env, argv), argv)


@SETTINGS
@given(words=mixed())
def test_mixed_options(unc_env, words):
    if os.environ.get("PROPERTY_SHARD", "0/1").startswith("1"):
        return                      # shard 0 runs it; shard 1 has the images
    argv = [*words, "--", "true"]
    check(unc_env, run_unc(unc_env, argv), argv)


@pytest.mark.parametrize("command", _shard(list(SUBCOMMANDS)))
@SETTINGS
@given(data=st.data())
def test_image_names(unc_env, command, data):
    names = data.draw(st.lists(IMAGE_NAME, min_size=1,
                               max_size=1 if command in ("pull", "logs") else 2), label="names")
    argv = [command, *names]
    check(unc_env, run_unc(unc_env, argv, prefix=SUBCOMMANDS[command]), argv)
