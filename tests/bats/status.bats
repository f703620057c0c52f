#!/usr/bin/env bats
# --json-status-fd=FD: JSON lines for supervisors, read from a pipe as a
# supervisor would, while the container runs.

load helpers
load net_helpers

setup() {
    setup_scratch
    chmod 777 "$SCRATCH"
}

teardown() {
    stop_background
    teardown_scratch
}

# json KEY LINE: the value of KEY in the JSON object LINE ("null" if missing).
json() {
    "$PYTHON" -c 'import json, sys; print(json.dumps(json.loads(sys.argv[2]).get(sys.argv[1])))' "$1" "$2"
}

@test "--json-status-fd: the running object while the command runs, then its exit status" {
    # The command waits for a file the reader creates after the first line:
    # that line comes while the container runs.
    run -0 bash -c '
        exec 4>&1
        "$0" --json-status-fd=3 -v "$1:$1" sh -c "while [ ! -e $1/go ]; do sleep 0.05; done; exit 7" \
                3>&1 >&4 4>&- | {
            IFS= read -r first || exit 90
            printf "%s\n" "$first"
            pid=$("$PYTHON" -c "import json, sys; print(json.loads(sys.argv[1])[\"pid\"])" "$first")
            # The host pid of the container PID 1: 1 in its own PID namespace.
            grep "^NSpid:" "/proc/$pid/status" | awk "{print \"nspid\", \$NF}"
            touch "$1/go"
            IFS= read -r last || exit 91
            printf "%s\n" "$last"
            ! IFS= read -r more || echo "more: $more"
        }
        echo "unc ${PIPESTATUS[0]}"' "$UNC" "$SCRATCH"
    assert_line --index 0 --regexp '^\{"pid": [0-9]+, "stage": "harden", "hostname": "unc", "net": "none", "ports": \[\]\}$'
    assert_line --index 1 "nspid 1"
    assert_line --index 2 '{"exit-status": 7}'
    assert_line --index 3 "unc 7"
    assert_equal "${#lines[@]}" 4
}

@test "--json-status-fd: a command killed by a signal, and unc killed by SIGTERM" {
    # SIGKILL from the host to the container's PID 1.
    run -0 bash -c '
        "$0" --json-status-fd=3 sleep 100 3>&1 >/dev/null | {
            IFS= read -r first || exit 90
            kill -KILL "$("$PYTHON" -c "import json, sys; print(json.loads(sys.argv[1])[\"pid\"])" "$first")"
            IFS= read -r last || exit 91
            printf "%s\n" "$last"
        }
        echo "unc ${PIPESTATUS[0]}"' "$UNC"
    assert_output $'{"exit-status": 137, "signal": 9, "signal-name": "SIGKILL"}\nunc 137'
    # SIGTERM to unc, whose PID 1 (sleep) has no handler: unc ends it.
    mkfifo "$SCRATCH/status"
    "$UNC" --json-status-fd=3 sleep 100 3>"$SCRATCH/status" </dev/null >/dev/null 2>&1 &
    NET_BG+=($!)
    exec 5<"$SCRATCH/status"
    IFS= read -r -t 10 first <&5
    [[ "$first" == '{"pid": '* ]]
    kill -TERM "${NET_BG[-1]}"
    IFS= read -r -t 10 last <&5
    exec 5<&-
    assert_equal "$last" '{"exit-status": 143, "signal": 15, "signal-name": "SIGTERM"}'
    run -143 wait "${NET_BG[-1]}"
}

@test "--json-status-fd: the network mode and the published ports, from the net stage" {
    { command -v pasta || command -v slirp4netns; } >/dev/null \
        || skip "neither pasta nor slirp4netns is installed"
    [ -r /dev/net/tun ] && [ -w /dev/net/tun ] || skip "/dev/net/tun is not usable"
    port=$(free_port)
    # (bash -c: a redirection of `run` itself would not be captured.)
    run -0 --separate-stderr bash -c '"$0" --json-status-fd=3 -p "127.0.0.1:$1:80" \
        --hostname=box true 3>&1' "$UNC" "$port"
    assert_line --index 0 --regexp "^\{\"pid\": [0-9]+, \"stage\": \"harden\", \"hostname\": \"box\", \"net\": \"(pasta|slirp4netns)\", \"ports\": \[\{\"host-ip\": \"127.0.0.1\", \"host-port\": $port, \"container-port\": 80, \"protocol\": \"tcp\"\}\]\}\$"
    assert_line --index 1 '{"exit-status": 0}'
}

@test "--json-status-fd: a run that stops before the net stage reports no network" {
    run -0 bash -c '"$0" --stage=uts --json-status-fd=3 true 3>&1' "$UNC"
    assert_line --index 0 --regexp '^\{"pid": [0-9]+, "stage": "uts", "hostname": "unc"\}$'
    run -0 bash -c '"$0" --stage=user_pid --json-status-fd=3 true 3>&1' "$UNC"
    assert_line --index 0 --regexp '^\{"pid": [0-9]+, "stage": "user_pid"\}$'
}

@test "--json-status-fd: the command does not inherit the descriptor" {
    run -0 --separate-stderr "$UNC" --json-status-fd=3 sh -c \
        'if [ -e /proc/self/fd/3 ]; then echo inherited; else echo closed; fi' 3>"$SCRATCH/s"
    assert_output "closed"
    assert_equal "$(wc -l <"$SCRATCH/s")" 2
}

@test "--json-status-fd: unc's failures end the stream with unc's own line" {
    run -127 --separate-stderr "$UNC" --json-status-fd=3 no-such-command 3>"$SCRATCH/s"
    [[ "$stderr" == "unc: no-such-command: command not found in the container's PATH"* ]]
    run -0 cat "$SCRATCH/s"
    assert_equal "${#lines[@]}" 1
    assert_equal "$(json exit-status "$output")" 127
    assert_equal "$(json error "$output")" "\"${stderr#unc: }\""
    # Refused before anything starts: the same.
    run -125 --separate-stderr "$UNC" --json-status-fd=3 --hostname=-x true 3>"$SCRATCH/s"
    assert_equal "$(cat "$SCRATCH/s")" "{\"exit-status\": 125, \"error\": \"${stderr#unc: }\"}"
}

@test "--json-status-fd: a descriptor unc cannot write to is refused (125)" {
    run -125 --separate-stderr "$UNC" --json-status-fd=9 true
    assert_equal "$stderr" "unc: --json-status-fd 9: it is not an open file descriptor (open it for unc, e.g. 9>FILE)"
    run -125 --separate-stderr "$UNC" --json-status-fd=3 true 3</dev/null
    assert_equal "$stderr" "unc: --json-status-fd 3: it is open for reading only"
    run -125 --separate-stderr "$UNC" --json-status-fd=x true
    assert_equal "$stderr" "unc: invalid --json-status-fd 'x': give a file descriptor number"
    [ -z "$output" ]
}

@test "--json-status-fd: a supervisor that goes away does not disturb the container" {
    run -0 bash -c '"$0" --json-status-fd=3 sh -c "sleep 0.3; echo done; exit 4" 3>&1 >"$1" | true
        echo "unc ${PIPESTATUS[0]}"' "$UNC" "$SCRATCH/out"
    assert_output "unc 4"
    assert_equal "$(cat "$SCRATCH/out")" "done"
}
