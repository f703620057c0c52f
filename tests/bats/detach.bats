#!/usr/bin/env bats
# Detached, named containers (issue 15, item 1): -d/--name, unc ps, exec,
# kill, stop, rm, logs, as an unprivileged user. Each test keeps the state
# in a directory of its own ($XDG_RUNTIME_DIR below its scratch directory),
# so that what it finds there is its own; teardown removes what is left.
# Commands that wait for a container (exec, stop) run under `timeout`, so
# that a bug hangs one test, not the suite.

load helpers

setup() {
    setup_scratch
    export XDG_RUNTIME_DIR=$SCRATCH/run
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    STATE=$XDG_RUNTIME_DIR/unc/containers
}

teardown() {
    local id
    for id in $("$UNC" ps -aq 2>/dev/null); do
        timeout 20 "$UNC" rm -f "$id" || true
    done
    teardown_scratch
}

T="timeout 20"

# field NAME KEY: KEY of container NAME in `unc ps -a --format=json`.
field() {
    "$UNC" ps -a --format=json | python3 -c '
import json, sys
name, key = sys.argv[1:]
print(next(c[key] for c in json.load(sys.stdin) if name in (c["name"], c["id"])))' "$1" "$2"
}

# Retry a command up to 50 times, 0.1 s apart (a server still starting).
retry() {
    local i
    for i in $(seq 50); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

@test "done when: -d --name web httpd, exec wget, ps, stop, rm, and nothing left" {
    run -0 --separate-stderr "$UNC" -d --name web --rootfs "$ROOTFS" httpd -f -p 8080
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    assert_equal "$stderr" ""
    id=$output
    [ -d "$STATE/$id" ]
    run -0 retry $T "$UNC" exec web wget -qO- http://127.0.0.1:8080/etc/passwd
    assert_line --partial "root:"
    run -0 "$UNC" ps
    assert_line --index 0 --regexp '^CONTAINER ID +NAME +PID +STATUS +STARTED +COMMAND$'
    assert_line --index 1 --regexp "^${id:0:12}  web +[0-9]+ +running +[0-9-]+ [0-9:]+ +httpd -f -p 8080$"
    pid=$(field web pid)
    monitor=$(field web monitor)
    kill -0 "$pid"
    run -0 $T "$UNC" stop web
    assert_output ""
    # httpd has no handler for SIGTERM: ended with SIGKILL, reported as 143.
    run -0 "$UNC" ps -a
    assert_line --index 1 --regexp "^${id:0:12}  web +- +exited \(143\) "
    run -0 "$UNC" ps
    assert_equal "${#lines[@]}" 1
    ! kill -0 "$pid" 2>/dev/null
    ! kill -0 "$monitor" 2>/dev/null
    run -0 "$UNC" rm web
    [ ! -e "$STATE/$id" ]
    [ ! -e "$STATE/names/web" ]
    run -0 "$UNC" ps -a
    assert_equal "${#lines[@]}" 1
}

@test "exec: the command's own status, 127, 126, 128+N for a signal" {
    "$UNC" -d --name c --rootfs "$ROOTFS" sleep 1000
    run -3 $T "$UNC" exec c sh -c 'exit 3'
    run -127 --separate-stderr $T "$UNC" exec c nothere
    [[ "$stderr" == "unc: nothere: command not found in the container's PATH"* ]]
    run -126 --separate-stderr $T "$UNC" exec c /etc/passwd
    assert_equal "$stderr" "unc: /etc/passwd: cannot execute: Permission denied"
    run -143 $T "$UNC" exec c sh -c 'kill -TERM $$'
    run -0 $T "$UNC" exec c true
}

@test "exec joins every namespace of the container, its root, /proc and hostname" {
    "$UNC" -d --name c --hostname box --rootfs "$ROOTFS" sh -c 'echo mine > /tmp/mark; exec sleep 1000'
    pid=$(field c pid)
    run -0 retry $T "$UNC" exec c cat /tmp/mark
    assert_output "mine"
    for ns in user mnt uts ipc net pid; do
        run -0 $T "$UNC" exec c readlink /proc/self/ns/$ns
        assert_output "$(readlink /proc/$pid/ns/$ns)"
        [ "$output" != "$(readlink /proc/self/ns/$ns)" ]
    done
    run -0 $T "$UNC" exec c hostname
    assert_output box
    # The container's /proc: its PID 1 is the sleep, the command a later pid.
    run -0 $T "$UNC" exec c sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo $$'
    assert_line --index 0 "sleep 1000 "
    [ "${lines[1]}" -gt 1 ]
}

@test "exec gets the harden stage's setup, as PID 1 does: capabilities, no_new_privs, seccomp" {
    "$UNC" -d --name c --rootfs "$ROOTFS" sleep 1000
    run -0 $T "$UNC" exec c sh -c 'for f in /proc/self/status /proc/1/status; do grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" $f | tr "\n" " "; echo; done'
    assert_equal "${lines[0]}" "${lines[1]}"
    assert_line --index 0 --partial "NoNewPrivs:	1 Seccomp:	2"
}

@test "exec into an --init container, whose PID 1 stays non-dumpable (unc's init)" {
    "$UNC" -d --name c --init --rootfs "$ROOTFS" sleep 1000
    # The host's /proc/PID files of PID 1 are root's, not the user's.
    pid=$(field c pid)
    run ! ls -l "/proc/$pid/ns/"
    run -0 $T "$UNC" exec c sh -c 'hostname; cat /proc/1/cmdline | tr "\0" " "; echo; grep NoNewPrivs /proc/self/status'
    assert_line --index 0 "unc"
    assert_line --index 1 --partial "sleep 1000"
    assert_line --index 2 --regexp "^NoNewPrivs:.1$"
    run -3 $T "$UNC" exec c sh -c 'exit 3'
}

@test "exec -u, -e, -w as for a run; the run's -e stays" {
    "$UNC" -d --name c --map-auto -e FROM_RUN=1 --rootfs "$ROOTFS" sleep 1000
    run -0 $T "$UNC" exec -u 1000:1000 c id -u
    assert_output 1000
    run -0 $T "$UNC" exec --user=0 c id -u
    assert_output 0
    MINE=yours run -0 $T "$UNC" exec -e A=b -e MINE c sh -c 'echo $A $MINE $FROM_RUN'
    assert_output "b yours 1"
    run -0 $T "$UNC" exec -w /tmp/new/dir c pwd
    assert_output /tmp/new/dir
    run -125 --separate-stderr "$UNC" exec -w relative c pwd
    [[ "$stderr" == "unc: "* ]]
}

@test "exec passes its signals on to the command" {
    "$UNC" -d --name c --rootfs "$ROOTFS" sleep 1000
    "$UNC" exec c sh -c 'trap "echo got USR1; exit 5" USR1; echo ready; while :; do sleep 0.1; done' \
        > "$SCRATCH/out" 3>&- &
    client=$!
    retry grep -q ready "$SCRATCH/out"
    kill -USR1 "$client"
    status=0
    wait "$client" || status=$?
    assert_equal "$status" 5
    run cat "$SCRATCH/out"
    assert_line "got USR1"
}

@test "exec -t: a terminal of the container's own, ^C reaches the command" {
    "$UNC" -d --name c --rootfs "$ROOTFS" sleep 1000
    run -3 $T python3 "$BATS_TEST_DIRNAME/pty_driver.py" 'send=tty; echo hi-$((1+1))\n' expect=hi-2 \
        'send=exit 3\n' exited -- "$UNC" exec -it c sh
    assert_output --partial "/dev/pts/0"
    run -130 $T python3 "$BATS_TEST_DIRNAME/pty_driver.py" expect=ready intr exited -- \
        "$UNC" exec -t c sh -c 'echo ready; sleep 1000'
}

@test "a command that exited shows as exited with its status; exec then fails (125)" {
    "$UNC" -d --name e --rootfs "$ROOTFS" sh -c 'echo out; echo err >&2; exit 7'
    run -0 $T "$UNC" stop e                 # waits for the monitor to record it
    run -0 "$UNC" ps -a
    assert_line --index 1 --regexp " e +- +exited \(7\) "
    run -0 "$UNC" logs e
    assert_line out
    assert_line err
    run -125 --separate-stderr "$UNC" exec e true
    assert_equal "$stderr" "unc: container e is not running (exited (7)); see 'unc logs e'"
    run -125 --separate-stderr "$UNC" kill e
    assert_equal "$stderr" "unc: container e is not running (exited (7))"
}

@test "kill -s: by name or number; KILL ends it with 137" {
    "$UNC" -d --name k --rootfs "$ROOTFS" sh -c 'trap "echo got HUP" HUP; echo ready; while :; do sleep 0.1; done'
    retry grep -q ready "$STATE/$(field k id)/log"
    run -0 "$UNC" kill -s HUP k
    retry grep -q "got HUP" "$STATE/$(field k id)/log"
    run -0 "$UNC" kill -s 9 k
    run -0 $T "$UNC" stop k
    run -0 "$UNC" ps -a
    assert_line --index 1 --regexp " k +- +exited \(137\) "
    run -125 --separate-stderr "$UNC" kill -s NOPE k
    assert_equal "$stderr" "unc: unknown signal 'NOPE': give a name (TERM, SIGKILL) or a number"
}

@test "stop -t: KILL after the timeout for a command that ignores TERM" {
    "$UNC" -d --name s --init --rootfs "$ROOTFS" sh -c 'trap "" TERM; echo ready; while :; do sleep 0.1; done'
    retry grep -q ready "$STATE/$(field s id)/log"
    run -0 $T "$UNC" stop -t 1 s
    run -0 "$UNC" ps -a
    assert_line --index 1 --regexp " s +- +exited \(137\) "
}

@test "a monitor killed with SIGKILL: the container is gone, shown as exited, and rm cleans up" {
    "$UNC" -d --name m --rootfs "$ROOTFS" sleep 1000
    pid=$(field m pid)
    monitor=$(field m monitor)
    kill -KILL "$monitor"
    retry sh -c "! kill -0 $pid 2>/dev/null"
    run -0 "$UNC" ps -a
    assert_line --index 1 --regexp " m +- +exited \(\?\) "
    run -0 "$UNC" ps
    assert_equal "${#lines[@]}" 1
    run -0 "$UNC" rm m
    [ -z "$(ls "$STATE" | grep -v names)" ]
}

@test "rm refuses a running container; rm -f ends it and its slirp4netns, leaving nothing" {
    "$UNC" -d --name r --net=slirp4netns --rootfs "$ROOTFS" sleep 1000
    pid=$(field r pid)
    monitor=$(field r monitor)
    helpers=$(ps -o pid= --ppid "$monitor")
    [ -n "$helpers" ]
    run -125 --separate-stderr "$UNC" rm r
    assert_equal "$stderr" "unc: container r is running: stop it first ('unc stop r'), or remove it with 'unc rm -f r'"
    kill -0 "$pid"
    run -0 $T "$UNC" rm -f r
    for p in $pid $monitor $helpers; do
        ! kill -0 "$p" 2>/dev/null
    done
    [ -z "$(ls "$STATE" | grep -v names)" ]
    [ -z "$(ls "$STATE/names")" ]
}

@test "names: a name in use is refused (125); odd names are refused; nothing is left" {
    "$UNC" -d --name same --rootfs "$ROOTFS" sleep 1000
    run -125 --separate-stderr "$UNC" -d --name same --rootfs "$ROOTFS" sleep 1000
    [[ "$stderr" == "unc: the name 'same' is taken by container "*" (running); remove it with 'unc rm same' or choose another" ]]
    assert_output ""
    long=$(printf 'a%.0s' $(seq 129))
    for bad in "" a/b .. . .x -x "a b" $'a\nb' $'\xff' "$long"; do
        run -125 --separate-stderr "$UNC" -d --name "$bad" --rootfs "$ROOTFS" true
        [[ "$stderr" == "unc: invalid container name "* ]] || { echo "$bad: $stderr"; false; }
        assert_output ""
    done
    assert_equal "$(ls "$STATE" | grep -vc names)" 1
    assert_equal "$(ls "$STATE/names")" same
    run -125 --separate-stderr "$UNC" --name x --rootfs "$ROOTFS" true
    assert_equal "$stderr" "unc: --name names a detached container: add -d"
}

@test "-d: a setup error is unc's, with its status, and leaves no state" {
    run -125 --separate-stderr "$UNC" -d --rootfs "$SCRATCH/none" true
    [[ "$stderr" == "unc: "* ]]
    assert_output ""
    run -127 --separate-stderr "$UNC" -d --name n --rootfs "$ROOTFS" nothere
    [[ "$stderr" == "unc: nothere: command not found"* ]]
    assert_output ""
    [ -z "$(ls "$STATE" | grep -v names)" ]
    [ -z "$(ls "$STATE/names")" ]
}

@test "unknown containers and bad options of the commands: 125 and what to do" {
    run -125 --separate-stderr "$UNC" exec nope true
    assert_equal "$stderr" "unc: no container nope; see 'unc ps -a'"
    for command in kill stop rm logs; do
        run -125 --separate-stderr "$UNC" $command nope
        assert_equal "$stderr" "unc: no container nope; see 'unc ps -a'"
    done
    run -125 --separate-stderr "$UNC" exec
    [[ "$stderr" == "unc: wrong number of arguments; usage: unc exec "* ]]
    run -125 --separate-stderr "$UNC" ps --bogus
    assert_equal "$stderr" "unc: unknown option --bogus for \`unc ps\`; usage: unc ps [-a] [-q] [--format=json]"
    # A command of that name runs in a container after --.
    run -0 "$UNC" --rootfs "$ROOTFS" -- ps -o comm
    assert_line ps
}

@test "-d --rm: the container is removed when it ends" {
    "$UNC" -d --rm --name gone --rootfs "$ROOTFS" sleep 1000
    run -0 "$UNC" ps -q
    assert_equal "${#lines[@]}" 1
    run -0 "$UNC" kill -s KILL gone
    retry sh -c '[ -z "$("$0" ps -aq)" ]' "$UNC"
    [ -z "$(ls "$STATE" | grep -v names)" ]
    [ -z "$(ls "$STATE/names")" ]
}

@test "without -d, a run writes no state" {
    run -0 "$UNC" --rootfs "$ROOTFS" true
    [ ! -e "$XDG_RUNTIME_DIR/unc" ]
}

@test "without XDG_RUNTIME_DIR: ${TMPDIR:-/tmp}/unc-run-UID, mode 0700" {
    export TMPDIR=$SCRATCH/tmp
    mkdir "$TMPDIR"
    unset XDG_RUNTIME_DIR
    "$UNC" -d --name t --rootfs "$ROOTFS" true
    assert_equal "$(stat -c %a "$TMPDIR/unc-run-$(id -u)")" 700
    run -0 $T "$UNC" rm -f t
    chmod 755 "$TMPDIR/unc-run-$(id -u)"
    run -125 --separate-stderr "$UNC" ps
    [[ "$stderr" == "unc: $TMPDIR/unc-run-$(id -u) is not a directory of yours that only you may use (mode 0700); "* ]]
}
