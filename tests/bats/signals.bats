#!/usr/bin/env bats
# PID 1, signals, terminals, and leaving nothing behind (issue 5).
#
# Every process these tests wait for or look for has a command line no
# other test uses (`sleep 51xxx`): other suites may run at the same time
# as the same user. Background jobs close fd 3, or bats would wait for them.

load helpers

setup() { setup_scratch; }
teardown() { teardown_scratch; }

DRIVER="$BATS_TEST_DIRNAME/pty_driver.py"

# Wait until a process runs with exactly this command line (at most 10 s).
wait_running() {
    local i
    for i in $(seq 200); do
        pgrep -xf "$1" >/dev/null && return 0
        sleep 0.05
    done
    echo "no process '$1' appeared" >&2
    return 1
}

# Succeed when no process runs with this command line within $2 seconds.
gone_within() {
    local i
    for i in $(seq $(($2 * 20))); do
        pgrep -xf "$1" >/dev/null || return 0
        sleep 0.05
    done
    echo "'$1' still runs after $2 s: $(pgrep -axf "$1")" >&2
    return 1
}

# start_unc CMDLINE-TO-WAIT-FOR UNC-ARG...: start unc in the background with
# SIGINT and SIGQUIT at their defaults (a non-interactive shell would ignore
# them for `&`, for unc as for any command), wait until CMDLINE runs.
start_unc() {
    local wanted=$1; shift
    env --default-signal=INT,QUIT "$UNC" "$@" 3>&- &
    UNC_PID=$!
    wait_running "$wanted"
}

# The status of the background unc.
status_of_unc() {
    STATUS=0
    wait "$UNC_PID" || STATUS=$?
}

# ------------------------------------------------------------ forwarding

@test "kill -TERM to unc ends a sleep that is PID 1 with 143" {
    start_unc "sleep 51001" sleep 51001
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
    gone_within "sleep 51001" 1
}

@test "kill -TERM to unc --init ends the command with 143" {
    start_unc "sleep 51002" --init sleep 51002
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
    gone_within "sleep 51002" 1
}

@test "kill -INT to unc ends a sleep with 130, with and without --init" {
    start_unc "sleep 51003" sleep 51003
    kill -INT "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 130
    start_unc "sleep 51003" --init sleep 51003
    kill -INT "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 130
}

@test "a command that traps TERM and exits 3 makes unc exit 3, with and without --init" {
    for init in "" --init; do
        start_unc "sleep 51004" $init sh -c 'trap "exit 3" TERM; sleep 51004 & wait'
        kill -TERM "$UNC_PID"
        status_of_unc
        assert_equal "$STATUS" 3
    done
}

@test "each forwarded signal reaches a command that traps it, with and without --init" {
    for init in "" --init; do
        for sig in HUP INT QUIT TERM USR1 USR2 ALRM WINCH CONT; do
            start_unc "sleep 51005" $init sh -c "trap 'exit 9' $sig; sleep 51005 & wait"
            kill -s "$sig" "$UNC_PID"
            status_of_unc
            [ "$STATUS" -eq 9 ] || { echo "$sig ${init:-without --init}: $STATUS" >&2; false; }
        done
    done
}

@test "a PID 1 that blocks TERM to take it later gets it (as with a signalfd)" {
    start_unc "sleep 51020" "$PYTHON" -c 'import signal, subprocess, time
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
subprocess.Popen(["sleep", "51020"])        # a sign that TERM is blocked now
while signal.SIGTERM not in signal.sigpending():
    time.sleep(0.01)
raise SystemExit(5)'
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 5
}

@test "dist/unc leaves no launcher between the caller and unc; python3 unc.py works alike" {
    # dist/unc execs unc from its cache: the process we started is unc, and
    # the container's PID 1 is its child.
    start_unc "sleep 51006" sleep 51006
    assert_equal "$(ps -o ppid= -p "$(pgrep -f '^sleep 51006$')" | tr -d ' ')" "$UNC_PID"
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
    # python3 unc.py has no launcher.
    "$PYTHON" "$UNC_SRC/unc.py" sleep 51006 3>&- &
    UNC_PID=$!
    wait_running "sleep 51006"
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
}

@test "signals the caller ignored stay ignored, as for the bare command" {
    # nohup leaves SIGHUP ignored; the command inherits that.
    run -0 nohup "$UNC" grep SigIgn /proc/self/status
    assert_output --regexp 'SigIgn:.*1$'
    nohup "$UNC" sleep 51007 >/dev/null 2>&1 3>&- &
    UNC_PID=$!
    wait_running "sleep 51007"
    kill -HUP "$UNC_PID"
    # Not forwarded: TERM, sent after HUP, is what ends it.
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
    # A script's `cmd &` ignores SIGINT: kill -INT leaves it running.
    "$UNC" sleep 51007 3>&- &
    UNC_PID=$!
    wait_running "sleep 51007"
    kill -INT "$UNC_PID"
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
}

@test "timeout(1) works on unc as on the command" {
    run -124 timeout 1 "$UNC" sleep 51008
    run -124 timeout 1 "$UNC" --init sleep 51008
    run -3 timeout 5 "$UNC" sh -c 'exit 3'
    run -0 timeout 5 "$UNC" true
    gone_within "sleep 51008" 1
}

@test "--trace shows a forwarded signal and the SIGKILL for an unhandled one" {
    start_unc "sleep 51009" --trace sleep 51009 2>"$SCRATCH/trace"
    kill -TERM "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 143
    grep -q "SIGTERM: PID 1 does not handle it; kill([0-9]*, SIGKILL)" "$SCRATCH/trace"
    start_unc "sleep 51009" --trace sh -c 'trap "exit 4" USR1; sleep 51009 & wait' 2>"$SCRATCH/trace"
    kill -USR1 "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 4
    grep -q "kill([0-9]*, SIGUSR1)" "$SCRATCH/trace"
}

# ------------------------------------------------------------ dying with unc

@test "timeout -s KILL 1 unc sleep leaves no sleep behind a second later" {
    run -137 timeout -s KILL 1 "$UNC" sleep 51010
    gone_within "sleep 51010" 1
    run -137 timeout -s KILL 1 "$UNC" --init sleep 51010
    gone_within "sleep 51010" 1
}

@test "kill -KILL of unc ends the container" {
    start_unc "sleep 51011" sleep 51011
    kill -KILL "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 137
    # Only unc got SIGKILL: the rest is the parent-death signal.
    gone_within "sleep 51011" 1
}

@test "kill -KILL of python3 unc.py ends the container (its PID 1 dies with unc)" {
    "$PYTHON" "$UNC_SRC/unc.py" --init sleep 51013 3>&- &
    UNC_PID=$!
    wait_running "sleep 51013"
    kill -KILL "$UNC_PID"
    status_of_unc
    assert_equal "$STATUS" 137
    gone_within "sleep 51013" 1
}

# ------------------------------------------------------------ --init

@test "--init: the command is PID 2 and init is PID 1, as --help says" {
    run -0 "$UNC" --init sh -c 'echo $$; ps -o pid= -o args= -p 1'
    assert_line --index 0 "2"
    assert_line --index 1 --regexp "^ +1 .*--init sh -c"
    run -0 "$UNC" --help
    assert_output --partial "COMMAND then runs as PID 2"
}

@test "--init: a double-forked orphan leaves no zombie" {
    # grep -c exits 1 when it counts nothing.
    run -1 "$UNC" --init sh -c '(sleep 0.1 &) ; sleep 0.5; ps -o stat | grep -c Z'
    assert_output "0"
}

# The orphan's parent exits at once; the orphan exits after it. Without
# --init, PID 1 here is a Python program that never waits for it.
ORPHAN='
import os, sys, time
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    orphan = os.fork()
    if orphan == 0:
        os._exit(0)
    os.write(w, b"%d" % orphan)
    os._exit(0)
os.waitpid(middle, 0)
orphan = int(os.read(r, 32))
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    try:
        with open(f"/proc/{orphan}/stat") as f:
            state = f.read().rsplit(") ", 1)[1][0]
    except OSError:
        sys.exit(print("reaped"))
    time.sleep(0.02)
print("state", state)
'

@test "--init reaps an orphan its parent never waits for; without --init it stays a zombie" {
    run -0 "$UNC" --init "$PYTHON" -c "$ORPHAN" 10
    assert_output "reaped"
    run -0 "$UNC" "$PYTHON" -c "$ORPHAN" 1
    assert_output "state Z"
}

@test "--init: background processes end with the command, and so without --init" {
    run -5 "$UNC" --init sh -c 'sleep 51014 & exit 5'
    gone_within "sleep 51014" 1
    run -5 "$UNC" sh -c 'sleep 51014 & exit 5'
    gone_within "sleep 51014" 1
}

@test "--init keeps the exit status contract" {
    run -0 "$UNC" --init true
    run -7 "$UNC" --init sh -c 'exit 7'
    run -127 --separate-stderr "$UNC" --init no-such-command-xyz
    [[ "$stderr" == "unc: no-such-command-xyz: command not found in the container's PATH ("*")" ]]
    run -126 --separate-stderr "$UNC" --init /etc/passwd
    [ "$stderr" = "unc: /etc/passwd: cannot execute: Permission denied" ]
    run -125 --separate-stderr "$UNC" --init --stage=bogus true
}

@test "--init: a signal sent from inside kills the command as on the host" {
    run -139 "$UNC" --init sh -c 'kill -SEGV $$'
    run -137 "$UNC" --init sh -c 'kill -KILL $$'
    run -134 "$UNC" --init "$PYTHON" -c 'import os; os.abort()'
    # A signal sent to init is passed on to the command.
    run -143 "$UNC" --init sh -c 'kill -TERM 1; sleep 51015'
}

@test "without --init the kernel shields PID 1 from signals sent inside" {
    run -0 "$UNC" sh -c 'kill -KILL $$; echo survived'
    assert_output "survived"
    # abort(3) cannot kill PID 1 with SIGABRT; glibc's fallback faults (139).
    run -139 "$UNC" "$PYTHON" -c 'import os; os.abort()'
}

@test "--trace shows init forking the command" {
    run -0 --separate-stderr "$UNC" --init --trace true
    [[ "$stderr" == *"init: fork -> pid 2"* ]]
    [[ "$stderr" == *"init: pid 2 ended (exit 0); kill(-1, SIGKILL)"* ]]
}

# ------------------------------------------------------------ terminals

@test "terminal: ^C interrupts the inner shell's job, not unc; the shell goes on" {
    # A shell on the terminal runs unc and says how it ended; then the
    # terminal must be that shell's again.
    outer='"$0" "$@"; echo "unc said $?"; read line; exit 6'
    for init in "" --init; do
        run -6 "$PYTHON" "$DRIVER" expect="# " fg=other \
            send='sleep 51016\n' running="sleep 51016" intr gone="sleep 51016" \
            send='echo "status $?"; echo al""ive\n' expect="status 130" expect=alive \
            send='exit 7\n' expect="unc said 7" fg=same send='\n' \
            -- sh -c "$outer" "$UNC" $init sh -i
    done
}

@test "terminal: ^Z suspends an inner shell's job; under --init a plain command goes on" {
    run -7 "$PYTHON" "$DRIVER" expect="# " send='sleep 51022\n' running="sleep 51022" \
        send='\x1a' expect="Stopped" send='kill -9 %1; fg >/dev/null; echo "k""illed $?"\n' \
        expect="killed 137" \
        send='exit 7\n' exited -- "$UNC" sh -i
    # Stopped, the command would hold the terminal while unc waits forever.
    run -0 "$PYTHON" "$DRIVER" expect=ready send='\x1a' send='hello\n' expect="got hello" \
        -- "$UNC" --init sh -c 'echo ready; read x; echo "got $x"'
}

@test "terminal: README's server with --init (httpd as PID 2) stops on ^C and on ^\\" {
    # Without --init httpd is PID 1 with no handlers: the kernel drops both.
    for key in intr:130 'send=\x1c:131'; do
        run -"${key##*:}" "$PYTHON" "$DRIVER" running="httpd -f -p 51024 -h /etc" "${key%:*}" \
            exited -- "$UNC" --init --rootfs "$ROOTFS" httpd -f -p 51024 -h /etc
    done
}

@test "terminal: window size changes reach the command" {
    winch='import os, signal, sys
signal.signal(signal.SIGWINCH, lambda *a: sys.exit(print("size %d %d" % os.get_terminal_size(0))))
print("ready", flush=True)
signal.pause()'
    for init in "" --init; do
        run -0 "$PYTHON" "$DRIVER" expect=ready resize=33x77 expect="size 77 33" \
            -- "$UNC" $init "$PYTHON" -c "$winch"
    done
}

@test "terminal: stdin not a terminal, or unc in the background: the terminal is not touched" {
    command='trap "echo done; exit 4" USR1; sleep 51017 & wait'
    run -4 "$PYTHON" "$DRIVER" --stdin-null running="sleep 51017" fg=same kill=USR1 \
        expect=done -- "$UNC" sh -c "$command"
    run -4 "$PYTHON" "$DRIVER" --background running="sleep 51017" fg=same kill=USR1 \
        expect=done -- "$UNC" sh -c "$command"
}

@test "terminal: modes come back when a signal ends the container" {
    run -143 "$PYTHON" "$DRIVER" running="sleep 51018" echo=off kill=TERM exited echo=on \
        -- "$UNC" sh -c 'stty -echo; sleep 51018'
}

# ------------------------------------------------------------ soak

@test "200 short containers leave no process, mount or temporary file behind" {
    export TMPDIR="$SCRATCH/tmp"
    mkdir "$TMPDIR"
    before=$(cat /proc/self/mountinfo)
    for i in $(seq 100); do
        "$UNC" sh -c 'sleep 51019 & exit 0' 3>&- || { echo "run $i failed" >&2; false; }
        "$UNC" --init sh -c 'sleep 51019 & exit 0' 3>&- || { echo "--init run $i failed" >&2; false; }
    done
    gone_within "sleep 51019" 1
    assert_equal "$(cat /proc/self/mountinfo)" "$before"
    run -0 find "$TMPDIR" -mindepth 1
    assert_output ""
}

@test "timeout ends a shell script inside before its next command runs" {
    # The container has a process group of its own: timeout's signal to its
    # group reaches the container only through unc, all of it at once.
    for i in 1 2 3; do
        run -124 timeout 0.5 "$UNC" --stage=user_pid sh -c "sleep 3; touch '$SCRATCH/mark$i'"
    done
    sleep 3.5
    run ls -A "$SCRATCH"
    assert_output ""
}
