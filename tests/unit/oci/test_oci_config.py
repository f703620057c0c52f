"""oci/config.py, oci/mounts.py and oci/cli.py's parsing, without a kernel:
what config.json fields and mount options become, what is refused, and
which command lines core/cli.py hands to the OCI runtime."""

import json

import pytest

from core import Fail
from kernel import CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, MS_NODEV, MS_NOSUID, MS_RDONLY
from oci import cli, config, mounts


def bundle(tmp_path, **changes):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    c = {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
         "process": {"args": ["sh"], "cwd": "/"},
         "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
    for key, value in changes.items():
        target = c
        *path, last = key.split("__")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    (tmp_path / "config.json").write_text(json.dumps(c))
    return str(tmp_path)


def test_namespaces_to_create_and_to_join(tmp_path):
    spec = config.load(bundle(tmp_path, linux__namespaces=[
        {"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/run/netns/x"}]))
    assert spec.flags == CLONE_NEWPID | CLONE_NEWNS
    assert [(kind, path) for kind, _, path in spec.join] == [("network", "/run/netns/x")]
    assert spec.rootfs == str(tmp_path / "rootfs")


def test_a_user_namespace_takes_its_mappings(tmp_path):
    spec = config.load(bundle(
        tmp_path, linux__namespaces=[{"type": "user"}, {"type": "mount"}],
        linux__uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
        linux__gidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}]))
    assert spec.flags & CLONE_NEWUSER
    assert spec.uid_mappings == ["0:1000:1"]
    with pytest.raises(Fail, match="needs linux.uidMappings"):
        config.load(bundle(tmp_path, linux__namespaces=[{"type": "user"}, {"type": "mount"}],
                           linux__uidMappings=[], linux__gidMappings=[]))


@pytest.mark.parametrize("key, value, named", [
    ("linux__intelRdt", {"closID": "a"}, "linux.intelRdt"),
    ("process__ioPriority", {"class": "IOPRIO_CLASS_IDLE"}, "process.ioPriority"),
    ("linux__resources", {"memory": {"limit": 10}}, "linux.resources.memory"),
    ("process__apparmorProfile", "x", "process.apparmorProfile"),
    ("solaris", {}, "solaris"),
    ("linux__namespaces", [{"type": "time"}, {"type": "mount"}], "linux.namespaces type"),
])
def test_an_unsupported_field_fails_naming_it(tmp_path, key, value, named):
    with pytest.raises(Fail) as e:
        config.load(bundle(tmp_path, **{key: value}))
    assert str(e.value).startswith(f"config.json: {named}")
    assert "\n" not in str(e.value)


def test_what_says_nothing_passes(tmp_path):
    spec = config.load(bundle(tmp_path, linux__resources={"devices": [{"allow": False}]},
                              linux__cgroupsPath="/x", process__apparmorProfile=""))
    assert spec.cgroups_path == "/x"


def test_a_mount_namespace_is_required(tmp_path):
    with pytest.raises(Fail, match="without a mount namespace"):
        config.load(bundle(tmp_path, linux__namespaces=[{"type": "pid"}]))


def test_seccomp_is_compiled_and_unknown_calls_passed_over(tmp_path):
    spec = config.load(bundle(tmp_path, linux__seccomp={
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["bdflush", "mkdir"], "action": "SCMP_ACT_ERRNO"}]}))
    assert spec.seccomp and len(spec.seccomp) % 8 == 0
    with pytest.raises(Fail, match="^config.json: linux.seccomp: invalid seccomp profile"):
        config.load(bundle(tmp_path, linux__seccomp={"defaultAction": "NOPE"}))


def test_unknown_capabilities_and_rlimits_are_refused(tmp_path):
    with pytest.raises(Fail, match="process.capabilities.bounding"):
        config.load(bundle(tmp_path, process__capabilities={"bounding": ["CAP_NOPE"]}))
    with pytest.raises(Fail, match="process.rlimits: unknown type 'RLIMIT_NOPE'"):
        config.load(bundle(tmp_path, process__rlimits=[{"type": "RLIMIT_NOPE", "soft": 1,
                                                         "hard": 1}]))


def test_mount_options_become_flags_propagation_and_data():
    flags, propagation, data, bind, recursive = mounts.parse_options(
        ["nosuid", "nodev", "ro", "rprivate", "mode=755", "size=65536k"])
    assert flags == MS_NOSUID | MS_NODEV | MS_RDONLY
    assert propagation == mounts.PROPAGATION["rprivate"]
    assert data == "mode=755,size=65536k"
    assert not bind
    assert mounts.parse_options(["rbind", "rw"])[3:] == (True, True)
    with pytest.raises(Fail, match="tmpcopyup"):
        mounts.parse_options(["tmpcopyup"])


@pytest.mark.parametrize("argv, routed", [
    (["create", "--bundle", "b", "x"], True),
    (["--root", "/r", "state", "x"], True),
    (["--debug", "delete", "x"], True),
    (["--debug", "ls"], False),                    # unc's own --debug
    (["kill", "--all", "x"], True),
    (["exec", "--process", "p.json", "x"], True),
    (["exec", "-t", "web", "sh"], False),          # unc's own exec (containers/)
    (["kill", "web", "other"], False),             # unc's own kill of two containers
    (["--root", "/nonexistent", "kill", "x", "9"], True),
    (["ls", "-l"], False),
    ([], False),
])
def test_which_command_lines_are_the_oci_runtimes(argv, routed):
    assert cli.wants(argv) is routed


def test_options_in_runc_forms():
    args = cli.Args(["-bundle=/b", "--pid-file", "p", "--no-pivot", "id"],
                    ("--bundle", "--pid-file"), ("--no-pivot",), "create")
    assert (args.get("--bundle"), args.get("--pid-file"), args.get("--no-pivot")) == \
        ("/b", "p", True)
    assert args.rest == ["id"]
    with pytest.raises(Fail, match="unknown option --nope"):
        cli.Args(["--nope", "id"], verb="start")


def test_signals_by_name_or_number():
    assert cli.signal_number("9") == 9
    assert cli.signal_number("TERM") == cli.signal_number("SIGTERM") == 15
    with pytest.raises(Fail, match="invalid signal"):
        cli.signal_number("SIG_DFL")


def test_devices_are_the_hosts_nodes(tmp_path):
    spec = config.load(bundle(tmp_path, linux__devices=[
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]))
    assert spec.devices == ["/dev/null"]
    with pytest.raises(Fail, match="another device than asked"):
        config.load(bundle(tmp_path, linux__devices=[
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 5}]))
    with pytest.raises(Fail, match="no such device"):
        config.load(bundle(tmp_path, linux__devices=[{"path": "/dev/unc-none", "type": "c"}]))


def test_kill_and_exec_of_a_container_in_the_oci_root_are_the_runtimes(tmp_path):
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "state.json").write_text("{}")
    assert cli.wants(["--root", str(tmp_path), "--debug", "kill", "box", "9"])
    assert cli.wants([f"--root={tmp_path}", "exec", "-t", "box", "sh"])
    assert not cli.wants(["kill", "box-not-there", "9"])
