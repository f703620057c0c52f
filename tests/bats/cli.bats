#!/usr/bin/env bats
# The command line and the exit status contract, through the real binary.

load helpers

# Tests that make a scratch directory lose it even when they fail.
teardown() { teardown_scratch; }

@test "--version prints the version on stdout and exits 0" {
    run -0 --separate-stderr "$UNC" --version
    assert_output --regexp '^unc [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "--help shows the usage and every stage name" {
    run -0 "$UNC" --help
    assert_output --partial "Usage:"
    assert_output --partial "--stage=NAME"
    assert_output --partial "Exit status:"
}

@test "unc stages lists the stages in order with a summary each" {
    run -0 --separate-stderr "$UNC" stages
    assert_line --index 0 --regexp '^user_pid +[a-z]'
    assert_line --index 1 --regexp '^uts +[a-z]'
    [ -z "$stderr" ]
}

@test "the command's own exit status is passed on" {
    run -7 "$UNC" sh -c 'exit 7'
    run -0 "$UNC" true
    run -1 "$UNC" false
}

@test "a command killed by signal N exits 128+N" {
    run -139 "$UNC" "$PYTHON" -c 'import ctypes; ctypes.string_at(0)'
}

@test "a signal sent to PID 1 from inside is discarded unless handled (exit 0)" {
    run -0 "$UNC" sh -c 'kill -TERM $$'
}

@test "a missing command exits 127 with a unc: line" {
    run -127 --separate-stderr "$UNC" no-such-command-xyz
    [ -z "$output" ]
    [[ "$stderr" == "unc: no-such-command-xyz: command not found in the container's PATH ("*")" ]]
}

@test "a missing command given by path exits 127" {
    run -127 --separate-stderr "$UNC" /no/such/file
    [[ "$stderr" == "unc: /no/such/file: command not found"* ]]
}

@test "a file that is not executable exits 126" {
    run -126 --separate-stderr "$UNC" /etc/passwd
    [ "$stderr" = "unc: /etc/passwd: cannot execute: Permission denied" ]
}

@test "a directory as command exits 126: Is a directory, as a shell says" {
    run -126 --separate-stderr "$UNC" /
    assert_equal "$stderr" "unc: /: cannot execute: Is a directory"
    run -126 --separate-stderr "$UNC" /tmp
    assert_equal "$stderr" "unc: /tmp: cannot execute: Is a directory"
    run -126 --separate-stderr "$UNC" --rootfs "$ROOTFS" /etc/
    assert_equal "$stderr" "unc: /etc/: cannot execute: Is a directory"
}

@test "an unknown stage is a usage error listing the valid stages (125)" {
    run -125 --separate-stderr "$UNC" --stage=bogus true
    [ -z "$output" ]
    assert_equal "$(wc -l <<<"$stderr")" 1
    [[ "$stderr" == "unc: unknown stage 'bogus'; valid stages: user_pid, uts, mount"* ]]
}

@test "an unknown option exits 125 with one unc: line" {
    run -125 --separate-stderr "$UNC" --no-such-option true
    [ -z "$output" ]
    assert_equal "$(wc -l <<<"$stderr")" 1
    assert_equal "$stderr" "unc: unknown, misplaced or repeated option --no-such-option; see 'unc --help'"
}

@test "an option missing its value exits 125" {
    run -125 --separate-stderr "$UNC" --stage
    assert_equal "$stderr" "unc: --stage requires an argument; see 'unc --help'"
}

@test "an option of a stage that is not selected is refused (125)" {
    run -125 --separate-stderr "$UNC" --stage=user_pid --hostname=box true
    [ "$stderr" = "unc: --hostname needs --stage=uts or a later stage" ]
}

@test "options after the command belong to the command" {
    run -0 "$UNC" sh -c 'echo "$0 $1"' --stage x
    assert_output "--stage x"
}

@test "-- ends unc's options; a command named like a subcommand still runs" {
    run -0 "$UNC" -- sh -c 'echo hi'
    assert_output "hi"
}

@test "unc prints nothing on stdout itself" {
    run -0 --separate-stderr "$UNC" --trace true
    [ -z "$output" ]
    [ -n "$stderr" ]
}

@test "the default command is \$SHELL, else /bin/sh" {
    run -0 bash -c 'echo "echo \$0" | SHELL=/bin/sh "$UNC"'
    assert_output "/bin/sh"
    run -0 bash -c 'echo "echo \$0" | SHELL=/no/such/shell "$UNC"'
    assert_output "/bin/sh"
}

@test "a \$SHELL the container lacks or cannot run: /bin/sh, and --trace says why" {
    # The test rootfs has busybox's sh, no bash.
    run -0 --separate-stderr bash -c 'echo "echo \$0" | SHELL=/bin/bash "$0" --trace --rootfs "$1"' \
        "$UNC" "$ROOTFS"
    assert_output "/bin/sh"
    [[ "$stderr" == *"+ \$SHELL (/bin/bash) is not in the container: running /bin/sh"* ]]
    run -0 --separate-stderr bash -c 'echo "echo \$0" | SHELL=/etc/passwd "$0" --trace' "$UNC"
    assert_output "/bin/sh"
    [[ "$stderr" == *"+ \$SHELL (/etc/passwd) cannot be executed (Permission denied): running /bin/sh"* ]]
    # Without --trace, nothing is said.
    run -0 --separate-stderr bash -c 'echo "echo ok" | SHELL=/bin/bash "$0" --rootfs "$1"' \
        "$UNC" "$ROOTFS"
    assert_output "ok"
    [ -z "$stderr" ]
}

@test "--help says what Ctrl-C does to a command as PID 1 without handlers, and to use --init" {
    run -0 "$UNC" --help
    assert_output --partial "On a terminal, Ctrl-C and Ctrl-\\ go to the command, not to unc: a PID 1"
    assert_output --partial "without handlers for SIGINT and SIGQUIT (httpd, sleep) does not stop on"
    assert_output --partial "them; run such a command with --init."
}

@test "stdin, stdout and stderr are connected" {
    run -0 --separate-stderr bash -c 'echo in | "$UNC" sh -c "cat; echo err >&2"'
    assert_output "in"
    [ "$stderr" = "err" ]
}

@test "arguments with odd bytes reach the command unchanged" {
    arg=$'a b\tc\x01\xff*$(x)'
    run -0 "$UNC" printf '%s' "$arg"
    [ "$output" = "$arg" ]
}

@test "no Python traceback on an internal error path; --debug is accepted" {
    run -125 --separate-stderr "$UNC" --debug --stage=bogus true
    [[ "$stderr" != *Traceback* ]]
}

@test "the environment inside has no trace of the frozen runtime" {
    run -0 env -u LD_LIBRARY_PATH "$UNC" env
    refute_output --partial "LD_LIBRARY_PATH"
    refute_output --partial "_PYI"
    refute_output --partial "_MEI"
}

@test "the caller's LD_LIBRARY_PATH reaches the command unchanged" {
    run -0 env LD_LIBRARY_PATH=/caller/lib "$UNC" sh -c 'echo "$LD_LIBRARY_PATH"'
    assert_output "/caller/lib"
}

@test "python3 unc.py behaves like the binary" {
    run -0 "$PYTHON" "$UNC_SRC/unc.py" sh -c 'echo $$; id -u'
    assert_output $'1\n0'
    run -127 "$PYTHON" "$UNC_SRC/unc.py" no-such-command-xyz
    run -125 "$PYTHON" "$UNC_SRC/unc.py" --stage=bogus true
}

@test "an argument after --help is refused (125)" {
    run -125 --separate-stderr "$UNC" --help extra
    assert_equal "$stderr" "unc: unknown, misplaced or repeated option --help; see 'unc --help'"
}

@test "an empty command exits 127, not an internal error" {
    run -127 --separate-stderr "$UNC" ""
    assert_equal "$stderr" "unc: '': command not found in the container"
}

@test "an empty --stage is refused (125)" {
    run -125 --separate-stderr "$UNC" --stage= true
    [[ "$stderr" == "unc: unknown stage ''; valid stages: "* ]]
}

@test "errors stay on one line whatever bytes the arguments hold" {
    run -127 --separate-stderr "$UNC" $'no\nsuch\xff'
    assert_equal "${#stderr_lines[@]}" 1
    assert_equal "$stderr" "unc: no\\nsuch\\xff: command not found in the container's PATH (${stderr#*PATH (}"
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v $'/no/such\nx:/y' true
    assert_equal "${#stderr_lines[@]}" 1
    [[ "$stderr" == "unc: invalid --volume "* ]]
}

@test "--debug keeps exit status 125 for unc's own failures" {
    run -125 --separate-stderr "$UNC" --debug --hostname=$'bad\xff' true
    [[ "$stderr" == "unc: invalid --hostname "* ]]
}

@test "the command finds programs in sbin directories a user's PATH lacks" {
    run -0 env PATH=/usr/bin:/bin "$UNC" --rootfs "$ROOTFS" sh -c 'echo "$PATH"; which ip'
    assert_line --index 0 "/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
    assert_line --index 1 --regexp '^/s?bin/ip$|^/usr/s?bin/ip$'
}

@test "stdout closed when unc starts: the command sees it closed, unc does not crash" {
    run -0 --separate-stderr bash -c '"$0" --stage=user_pid sh -c "test -e /proc/self/fd/1 && echo open >&2 || echo closed >&2" >&-' "$UNC"
    assert_equal "$stderr" "closed"
}

@test "stderr closed when unc starts: the command still runs" {
    setup_scratch
    run -0 bash -c '"$0" --stage=user_pid touch "$1/ran" 2>&-' "$UNC" "$SCRATCH"
    [ -e "$SCRATCH/ran" ]
    teardown_scratch
}

@test "--help with stdout closed is a 125 error, not a traceback" {
    run -125 --separate-stderr bash -c '"$0" --help >&-' "$UNC"
    assert_equal "$stderr" "unc: cannot write to stdout: it is closed"
}

@test "--help into a closed pipe ends quietly" {
    run -0 --separate-stderr bash -c '"$0" --help | head -1' "$UNC"
    assert_output "unc - run a command in an unprivileged Linux container."
    [ -z "$stderr" ]
}

@test "nested in a container without its own /proc, unc says why it cannot work (125)" {
    run -125 --separate-stderr "$UNC" --stage=uts "$UNC" --stage=user_pid true
    [[ "$stderr" == "unc: this /proc belongs to another PID namespace than unc's"*"--stage=mount or later)" ]]
}

@test "nested in a container with its own /proc, unc works" {
    # The binary's directory is under the host's /tmp, which the container
    # covers with a tmpfs of its own: bind it onto /mnt.
    # --privileged: the defaults refuse the inner unc's unshare and mounts.
    run -0 "$UNC" --privileged -v "$(dirname "$UNC"):/mnt:ro" /mnt/unc --stage=uts sh -c 'echo $$; hostname'
    assert_output $'1\nunc'
}

@test "unc check starts a container at each stage and says ok (exit 0)" {
    { command -v pasta || command -v slirp4netns; } >/dev/null \
        || skip "neither pasta nor slirp4netns is installed"
    [ -r /dev/net/tun ] && [ -w /dev/net/tun ] \
        || skip "/dev/net/tun is not usable by $(id -un) (tests/run as root makes it 0666)"
    run -0 --separate-stderr "$UNC" check
    # It says whether --map-auto works (the test user has a subordinate range).
    assert_line --index 0 "user_pid  ok (--map-auto works)"
    assert_line --index 1 "uts       ok"
    assert_line --index 2 "mount     ok"
    assert_line --index 3 --regexp '^net       ok \(--net=none(, pasta)? and (pasta|slirp4netns) work(; .*)?\)$'
    assert_line --index 4 "harden    ok"
    # Then a line a fact of the host, in the order of docs/check.md.
    assert_line --index 5 --regexp '^kernel    Linux [^ ]+ \([^ ]+\)$'
    assert_line --index 6 --regexp '^userns    allowed \(user.max_user_namespaces=[0-9]+\)$'
    assert_line --index 7 --regexp "^subids    $(id -un): uids "
    assert_line --index 8 --regexp '^overlayfs '
    assert_line --index 9 --regexp '^tun       /dev/net/tun \(mode 0[0-7]{3}\) can be opened$'
    assert_line --index 10 --regexp '^pasta     '
    assert_line --index 11 --regexp '^slirp4netns '
    assert_line --index 12 --regexp '^cgroup    '
    assert_line --index 13 --regexp '^seccomp   '
    assert_equal "${#lines[@]}" 14
    [ -z "$stderr" ]
}

@test "unc check --json: one JSON object with the documented keys, the same verdicts" {
    { command -v slirp4netns && [ -r /dev/net/tun ] && [ -w /dev/net/tun ]; } >/dev/null \
        || skip "needs slirp4netns and a usable /dev/net/tun"
    run -0 --separate-stderr "$UNC" check --json
    [ -z "$stderr" ]
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/check.json"
    run -0 python3 -m json.tool "$BATS_TEST_TMPDIR/check.json"
    run -0 python3 - "$BATS_TEST_TMPDIR/check.json" "$(id -un)" <<'PY'
import json, os, sys
report = json.load(open(sys.argv[1]))
assert report["schema"] == 1 and report["ok"] is True, report
assert report["default_stage"] == "harden"
assert [s["name"] for s in report["stages"]] == ["user_pid", "uts", "mount", "net", "harden"]
assert all(s["ok"] and s["runs"] and s["error"] is None for s in report["stages"])
facts = ["kernel", "userns", "subids", "overlayfs", "tun", "pasta", "slirp4netns",
         "cgroup", "seccomp"]
assert list(report)[5:] == facts, list(report)
assert all(isinstance(report[k]["summary"], str) for k in facts)
assert report["kernel"]["release"] == os.uname().release
assert report["userns"]["allowed"] is True and report["userns"]["setting"] is None
assert report["subids"]["user"] == sys.argv[2] and report["subids"]["map_auto"] is True
assert report["subids"]["uid_ranges"][0]["count"] > 0
assert report["tun"]["usable"] is True
assert report["slirp4netns"]["version"] and report["slirp4netns"]["works"] is True
PY
    # --json belongs to check: elsewhere it is a usage error.
    run -125 --separate-stderr "$UNC" --json true
    assert_equal "$stderr" "unc: unknown, misplaced or repeated option --json; see 'unc --help'"
    run -125 --separate-stderr "$UNC" check --bogus
    [ -z "$output" ]
    assert_equal "$stderr" "unc: unc check takes no option '--bogus'; see 'unc --help'"
    # 125 is unc's own failure, such as a closed stdout.
    run -125 --separate-stderr bash -c '"$0" check --json >&-' "$UNC"
    assert_equal "$stderr" "unc: cannot write to stdout: it is closed"
}

@test "unc check takes well under a second" {
    python3 - "$UNC" <<'PY'
import subprocess, sys, time

def once():
    start = time.monotonic()
    subprocess.run([sys.argv[1], "check", "--json"], capture_output=True)
    return time.monotonic() - start

best = min(once() for _ in range(3))
print(f"# unc check --json: {best * 1000:.0f} ms", file=sys.stderr)
assert best < 1.0, best
PY
}

@test "with user namespaces unavailable, unc check exits 1 and names the setting" {
    # user.max_user_namespaces is a limit of each user namespace: 0 written
    # in a namespace of the test's own forbids new ones there only.
    run -1 --separate-stderr unshare -U --map-root-user sh -c \
        'echo 0 >/proc/sys/user/max_user_namespaces && exec "$0" check' "$UNC"
    [ -z "$stderr" ]
    assert_line --index 0 "user_pid  FAILED: cannot create the container's namespaces: user namespaces are disabled: sysctl user.max_user_namespaces is 0; as root, set it: sysctl -w user.max_user_namespaces=15000"
    assert_line --index 1 "uts       FAILED: as above"
    assert_line --index 3 "net       FAILED: as above"
    assert_line --index 4 "harden    FAILED: as above"
    assert_line --index 6 --regexp '^userns    REFUSED \(unshare: No space left on device\): .*user.max_user_namespaces is 0'
    run -1 --separate-stderr unshare -U --map-root-user sh -c \
        'echo 0 >/proc/sys/user/max_user_namespaces && exec "$0" check --json' "$UNC"
    run -0 python3 -c '
import json, sys
report = json.loads(sys.argv[1])
assert report["ok"] is False and not any(s["runs"] for s in report["stages"])
u = report["userns"]
assert (u["allowed"], u["setting"], u["step"], u["errno"]) == (
    False, "user.max_user_namespaces", "unshare", "ENOSPC"), u
assert u["sysctls"]["user.max_user_namespaces"] == 0
print(u["error"])' "$output"
    assert_output --partial "sysctl -w user.max_user_namespaces="
}

@test "unc check names what fails on this host, one line a stage (1)" {
    # A namespace whose only /proc has parts covered, as inside many other
    # containers: the kernel refuses a fresh /proc.
    run -1 --separate-stderr in_proc_namespace covered /mnt/unc check
    # Root of that user namespace has no subordinate range: said, not failed.
    assert_line --index 0 --regexp '^user_pid  ok \(--map-auto cannot work: .*/etc/subuid'
    assert_line --index 2 --regexp '^mount     FAILED: cannot mount a fresh /proc: .*--bind-proc'
    assert_line --index 3 --regexp '^net       FAILED: '
    assert_line --index 4 --regexp '^harden    FAILED: '
    assert_line --index 5 --regexp '^kernel    '
    assert_equal "${#lines[@]}" 14
    # The same namespace with that /proc fully visible: the mount stage works.
    run --separate-stderr in_proc_namespace visible /mnt/unc check
    assert_line --index 2 "mount     ok"
}

@test "-q is accepted: unc prints no warnings, and errors and --trace stay" {
    run -0 --separate-stderr "$UNC" -q true
    [ -z "$stderr" ] && [ -z "$output" ]
    run -0 --separate-stderr "$UNC" --quiet true
    [ -z "$stderr" ] && [ -z "$output" ]
    run -0 --separate-stderr "$UNC" -q --trace --stage=user_pid true
    [[ "$stderr" == *"+ unshare(CLONE_NEWUSER|CLONE_NEWPID)"* ]]
    run -127 --separate-stderr "$UNC" -q no-such-command
    [[ "$stderr" == "unc: no-such-command: command not found"* ]]
}

@test "a command named check runs after --" {
    run -127 --separate-stderr "$UNC" -- check
    [[ "$stderr" == "unc: check: command not found in the container's PATH"* ]]
}

@test "a script without a #! line runs with /bin/sh, as execvp(3) does" {
    setup_scratch
    printf 'echo "no #! line: $1"\n' > "$SCRATCH/script"
    chmod +x "$SCRATCH/script"
    run -0 "$UNC" --stage=user_pid "$SCRATCH/script" arg
    assert_output "no #! line: arg"
    teardown_scratch
}

@test "a script whose #! interpreter is missing exits 127 and says so" {
    setup_scratch
    printf '#!/no/such/interpreter\necho x\n' > "$SCRATCH/script"
    chmod +x "$SCRATCH/script"
    run -127 --separate-stderr "$UNC" --stage=user_pid "$SCRATCH/script"
    assert_equal "$stderr" "unc: $SCRATCH/script: cannot execute: its interpreter (#! line) or dynamic loader is missing in the container"
    teardown_scratch
}
