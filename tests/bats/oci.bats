#!/usr/bin/env bats
# unc as an OCI runtime (oci/): runc's command line on bundles the tests
# write, as the unprivileged user (root/oci_root.bats: as root).

load helpers
load oci_helpers

setup() { setup_oci; }
teardown() { teardown_oci; }

@test "create leaves PID 1 waiting; start runs the process; state follows; delete removes it" {
    oci_bundle "$BUNDLE" '["sh", "-c", "echo pid $$; id -u; hostname"]'
    oci_create c1 --pid-file "$SCRATCH/pid"
    [ ! -s "$SCRATCH/c1.out" ] && [ ! -s "$SCRATCH/c1.err" ]
    pid=$(cat "$SCRATCH/pid")
    [ -d "/proc/$pid" ]
    run -0 oci state c1
    assert_output --partial '"status": "created"'
    assert_output --partial "\"pid\": $pid,"
    assert_output --partial "\"bundle\": \"$BUNDLE\""
    assert_output --partial '"id": "c1"'
    assert_output --partial '"ociVersion": "1.0.2"'
    run -0 oci start c1
    assert_output ""
    oci_wait_stopped c1
    assert_equal "$(cat "$SCRATCH/c1.out")" "$(printf 'pid 1\n0\nocibox')"
    run -0 oci state c1
    assert_output --partial '"pid": 0,'
    run -0 oci delete c1
    [ ! -e "$OCI_ROOT/c1" ]
    run -125 --separate-stderr oci state c1
    assert_equal "$stderr" "unc: container c1 does not exist"
}

@test "the state machine refuses as runc does: start twice, kill stopped, delete running" {
    oci_bundle "$BUNDLE" '["sleep", "1000"]'
    oci_create c2
    oci start c2
    [ "$(oci_status c2)" = running ]
    run -125 --separate-stderr oci start c2
    assert_equal "$stderr" "unc: cannot start an already running container"
    run -125 --separate-stderr oci delete c2
    assert_equal "$stderr" "unc: cannot delete container c2 that is not stopped: running"
    run -0 oci kill c2 KILL
    oci_wait_stopped c2
    run -125 --separate-stderr oci kill c2 TERM
    assert_equal "$stderr" "unc: container not running"
    run -125 --separate-stderr oci start c2
    assert_equal "$stderr" "unc: cannot start a container that has stopped"
    run -0 oci delete c2
}

@test "create twice with one id fails; delete --force ends a running container" {
    oci_bundle "$BUNDLE" '["sleep", "1000"]'
    oci_create c3 --pid-file "$SCRATCH/pid"
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c3
    assert_equal "$stderr" "unc: container with id exists: c3"
    oci start c3
    pid=$(cat "$SCRATCH/pid")
    run -0 oci delete --force c3
    [ ! -e "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status"
    [ ! -e "$OCI_ROOT/c3" ]
    run -0 oci delete --force c3          # gone already: as runc, nothing to do
}

@test "kill takes a signal by name or number, and --all reaches every process" {
    oci_bundle "$BUNDLE" '["sh", "-c", "trap \"echo got USR1; exit 3\" USR1; echo ready; sleep 1000 & wait"]'
    oci_create c4
    oci start c4
    for i in $(seq 500); do grep -q ready "$SCRATCH/c4.out" && break; sleep 0.01; done
    oci kill c4 10
    oci_wait_stopped c4
    assert_equal "$(cat "$SCRATCH/c4.out")" "$(printf 'ready\ngot USR1')"
    run -125 --separate-stderr oci kill c4 NOSUCH
    assert_equal "$stderr" "unc: invalid signal 'NOSUCH': give a name (TERM, SIGKILL) or a number"
    oci delete c4
    oci_bundle "$BUNDLE" '["sh", "-c", "sleep 1000 & sleep 1000 & wait"]'
    oci_create c5 --pid-file "$SCRATCH/pid"
    oci start c5
    pid=$(cat "$SCRATCH/pid")
    ns=$(readlink "/proc/$pid/ns/pid")
    run -0 oci kill --all c5 SIGKILL
    oci_wait_stopped c5
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/pid" 2>/dev/null)" != "$ns" ] || ! grep -q '^State:.*[RS]' "$p/status"
    done
}

@test "a config field unc does not support fails create with one line, nothing left" {
    oci_bundle "$BUNDLE" '["true"]' 'c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE"}'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c6
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^unc: config.json: process.ioPriority is not supported'
    [ ! -e "$OCI_ROOT/c6" ]
    oci_bundle "$BUNDLE" '["true"]' 'c["linux"]["intelRdt"] = {"closID": "x"}'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c6
    assert_regex "$stderr" '^unc: config.json: linux.intelRdt is not supported'
    oci_bundle "$BUNDLE" '["true"]' 'c["linux"]["resources"] = {"memory": {"limit": 1000000}}'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c6
    assert_regex "$stderr" '^unc: config.json: linux.resources.memory is not supported'
    oci_bundle "$BUNDLE" '["true"]' 'c["linux"]["resources"] = {"pids": {"limit": 100}}'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c6
    assert_equal "$stderr" "unc: config.json: linux.resources.pids is not supported: unc applies cgroup limits only as root; remove it (podman: --pids-limit=-1)"
    [ -z "$(ls "$OCI_ROOT")" ]
}

@test "a setup that fails once PID 1 exists leaves nothing; a create killed halfway does not block the id" {
    oci_bundle "$BUNDLE" '["sleep", "1616"]' \
        'c["mounts"].append({"destination": "/mnt", "type": "bind", "source": "'"$SCRATCH"'/missing", "options": ["rbind"]})'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c16
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" "^unc: cannot open $SCRATCH/missing: No such file or directory"
    [ ! -e "$OCI_ROOT/c16" ]
    ! pgrep -u "$(id -u)" -f "sleep 1616" >/dev/null
    mkdir -p "$OCI_ROOT/c16" && touch "$OCI_ROOT/c16/lock"     # as a killed create leaves it
    oci_bundle "$BUNDLE" '["true"]'
    oci_create c16
    [ "$(oci_status c16)" = created ]
}

@test "a missing program fails create (127) and leaves no container or process" {
    oci_bundle "$BUNDLE" '["nosuchprogram"]'
    run -127 --separate-stderr oci create --bundle "$BUNDLE" c7
    assert_equal "$stderr" "unc: nosuchprogram: executable file not found in the container's \$PATH"
    [ ! -e "$OCI_ROOT/c7" ]
    ! pgrep -u "$(id -u)" -f "create --bundle $BUNDLE" >/dev/null
}

@test "the process's env, cwd, rlimits and capabilities apply, and masked and read-only paths" {
    oci_bundle "$BUNDLE" '["sh", "-c", "echo $FOO; pwd; ulimit -n; grep CapBnd /proc/self/status; wc -c < /etc/rootfs-marker; (echo 0 > /proc/sys/net/ipv4/ip_forward) 2>&1 | grep -o \"Read-only file system\"; exit 7"]' \
        'c["linux"]["maskedPaths"] = ["/etc/rootfs-marker", "/proc/kcore", "/nonexistent"]' \
        'c["linux"]["readonlyPaths"] = ["/proc/sys"]' \
        'c["process"]["env"].append("FOO=bar")' 'c["process"]["cwd"] = "/tmp"' \
        'c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]' \
        'c["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_KILL"] for k in ("bounding", "effective", "permitted")}'
    oci_create c8 --pid-file "$SCRATCH/pid"
    run -0 oci start c8
    oci_wait_stopped c8
    assert_equal "$(cat "$SCRATCH/c8.out")" "$(printf 'bar\n/tmp\n123\nCapBnd:\t0000000000000021\n0\nRead-only file system')"
}

@test "exec --process runs a process in the container's namespaces" {
    oci_bundle "$BUNDLE" '["sleep", "1000"]'
    oci_create c9 --pid-file "$SCRATCH/pid"
    oci start c9
    python3 -c 'import json; json.dump({"args": ["sh", "-c", "hostname; ps -o pid,comm | grep -c sleep; exit 4"], "cwd": "/", "env": ["PATH=/bin:/sbin"], "user": {"uid": 0, "gid": 0}}, open("'"$SCRATCH"'/process.json", "w"))'
    run -4 oci exec --process "$SCRATCH/process.json" --pid-file "$SCRATCH/epid" c9
    assert_output "$(printf 'ocibox\n1')"
    [ -s "$SCRATCH/epid" ]
    run -0 oci exec c9 sh -c 'tr "\0" " " < /proc/1/cmdline'
    assert_output "sleep 1000 "
    run -127 --separate-stderr oci exec c9 nosuch
    assert_regex "$stderr" "^unc: nosuch: executable file not found"
    run -125 --separate-stderr oci exec --user 1000 c9 true
    assert_equal "$stderr" "unc: exec --user is not supported by unc: give the process as JSON with --process FILE"
}

@test "--console-socket: the pty master goes over the socket and the process has a terminal" {
    oci_bundle "$BUNDLE" '["sh", "-c", "tty; read line; echo got $line"]' 'c["process"]["terminal"] = True'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c10
    assert_equal "$stderr" "unc: cannot allocate tty if unc will detach without setting console socket"
    python3 "$BATS_TEST_DIRNAME/console_receiver.py" "$SCRATCH/console.sock" $'hello\n' \
        > "$SCRATCH/console.out" 2> "$SCRATCH/console.err" &
    receiver=$!
    for i in $(seq 200); do [ -S "$SCRATCH/console.sock" ] && break; sleep 0.01; done
    oci_create c10 --console-socket "$SCRATCH/console.sock"
    run -0 oci start c10
    wait "$receiver"
    run cat "$SCRATCH/console.out"
    assert_line --index 0 --regexp '^/dev/pts/[0-9]+'
    assert_output --partial "got hello"
    grep -q '^name: /dev/pts/' "$SCRATCH/console.err"
}

@test "hooks get the state JSON on stdin: createRuntime, createContainer, startContainer, poststart, poststop" {
    oci_bundle "$BUNDLE" '["true"]' \
        'c["hooks"] = {k: [{"path": "/bin/sh", "args": ["sh", "-c", "cat > '"$SCRATCH"'/" + k]}] for k in ("createRuntime", "createContainer", "poststart", "poststop")}' \
        'c["hooks"]["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/startContainer; cp /tmp/startContainer /dev/stdout"]}]' \
        'c["process"]["args"] = ["sh", "-c", "cat /tmp/startContainer"]'
    oci_create c11 --pid-file "$SCRATCH/pid"
    for hook in createRuntime createContainer; do
        run -0 cat "$SCRATCH/$hook"
        assert_output --partial '"id": "c11"'
        assert_output --partial "\"pid\": $(cat "$SCRATCH/pid")"
    done
    oci start c11
    assert_regex "$(cat "$SCRATCH/poststart")" '"status": "running"'
    oci_wait_stopped c11
    [ ! -e "$SCRATCH/poststop" ]
    # startContainer ran in the container (its /tmp), before the process.
    assert_regex "$(cat "$SCRATCH/c11.out")" "\"pid\": $(cat "$SCRATCH/pid")"
    oci delete c11
    assert_regex "$(cat "$SCRATCH/poststop")" '"status": "stopped"'
    oci_bundle "$BUNDLE" '["true"]' 'c["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c12
    assert_equal "$stderr" "unc: createRuntime hook /bin/false failed with status 1"
    [ ! -e "$OCI_ROOT/c12" ]
}

@test "list and features answer as runc's" {
    oci_bundle "$BUNDLE" '["sleep", "1000"]'
    oci_create c13
    run -0 oci list -q
    assert_output "c13"
    run -0 oci list --format json
    assert_output --partial '"status": "created"'
    run -0 oci features
    assert_output --partial '"ociVersionMax": "1.0.2"'
    run -0 "$UNC" --root "$OCI_ROOT" --version
    assert_line --index 1 "spec: 1.0.2"
    # Errors also go to --log, as runc's, for conmon to read.
    run -125 --separate-stderr oci --log "$SCRATCH/log" --log-format json state nosuch
    run -0 python3 -c 'import json, sys; e = json.loads(open(sys.argv[1]).read()); print(e["level"], e["msg"])' "$SCRATCH/log"
    assert_output "error container nosuch does not exist"
}

@test "linux.seccomp: the profile's refused calls fail in the process and in exec; a bad one fails create" {
    oci_bundle "$BUNDLE" '["sh", "-c", "mkdir /tmp/x; echo status $?; exec sleep 1000"]' \
        'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat", "nosuchcall"], "action": "SCMP_ACT_ERRNO"}]}'
    oci_create c14
    oci start c14
    for i in $(seq 500); do grep -q status "$SCRATCH/c14.out" && break; sleep 0.01; done
    run cat "$SCRATCH/c14.out"
    assert_output "status 1"
    assert_regex "$(cat "$SCRATCH/c14.err")" "Operation not permitted"
    run -1 oci exec c14 mkdir /tmp/y
    assert_output --partial "Operation not permitted"
    oci_bundle "$BUNDLE" '["true"]' 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_NOPE"}'
    run -125 --separate-stderr oci create --bundle "$BUNDLE" c15
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" "^unc: config.json: linux.seccomp: invalid seccomp profile"
    [ ! -e "$OCI_ROOT/c15" ]
}

@test "only fds 0-2 reach the process, and --preserve-fds N more, in create and exec" {
    oci_bundle "$BUNDLE" '["sh", "-c", "for fd in 7 8; do test -e /proc/self/fd/$fd && echo $fd open || echo $fd closed; done; exec sleep 1717"]'
    oci create --bundle "$BUNDLE" c17 > "$SCRATCH/c17.out" 2>&1 </dev/null 7</ 8</
    oci start c17
    oci create --bundle "$BUNDLE" --preserve-fds 5 c18 > "$SCRATCH/c18.out" 2>&1 </dev/null 7</ 8</
    oci start c18
    for i in $(seq 500); do [ "$(wc -l < "$SCRATCH/c18.out")" = 2 ] && break; sleep 0.01; done
    assert_equal "$(cat "$SCRATCH/c17.out")" "$(printf '7 closed\n8 closed')"
    # 5 more: 3 to 7.
    assert_equal "$(cat "$SCRATCH/c18.out")" "$(printf '7 open\n8 closed')"
    run -0 oci exec c17 sh -c 'test -e /proc/self/fd/7 && echo open || echo closed' 7</
    assert_output "closed"
    run -0 oci exec --preserve-fds 5 c17 sh -c 'test -e /proc/self/fd/7 && echo open || echo closed' 7</
    assert_output "open"
}

@test "before start, PID 1 (unc's own binary) is out of reach: not dumpable, no exec" {
    oci_bundle "$BUNDLE" '["true"]'
    oci_create c19 --pid-file "$SCRATCH/pid"
    pid=$(cat "$SCRATCH/pid")
    run ! head -c 4 "/proc/$pid/exe"
    assert_output --partial "Permission denied"
    run -125 --separate-stderr oci exec c19 true
    assert_equal "$stderr" "unc: cannot exec in a container that has not started: start it first"
    oci start c19 || { cat "$SCRATCH/c19.err" "$SCRATCH/c19.out"; false; }
}
