# Shared by net.bats and root/net_bridge.bats: servers on the host's
# loopback or bridge, containers in the background, and the checks that
# nothing of a run is left behind. Only loopback, unc0 and the namespaces
# the tests create are ever used.

NET_BG=()        # pids of background processes this test started

# A TCP (default) or UDP port nobody uses right now on 127.0.0.1.
free_port() {
    "$PYTHON" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "${1:-tcp}"
}

# retry N COMMAND...: run COMMAND up to N times, 0.1 s apart, until it succeeds.
retry() {
    local n=$1 i; shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# host_http ADDRESS PORT DIR: serve DIR over HTTP on the host, in the background.
host_http() {
    "$PYTHON" -m http.server --bind "$1" --directory "$3" "$2" >/dev/null 2>&1 3>&- &
    NET_BG+=($!)
    retry 100 curl -fsS -o /dev/null "http://$1:$2/" || {
        echo "the host's test server on $1:$2 did not start" >&2; return 1; }
}

# start_unc LOG ARGS...: unc in the background, stderr (with --trace) to LOG.
# Sets UNC_PID: unc itself, which runs the helpers (dist/unc execs it).
start_unc() {
    local log=$1; shift
    "$UNC" "$@" >"$log.out" 2>"$log" </dev/null 3>&- &
    UNC_PID=$!
    NET_BG+=($UNC_PID)
    retry 100 pgrep -P "$UNC_PID" >/dev/null
}

# helper_pids LOG NAME: the host pids of the NAME helpers a --trace log shows.
helper_pids() {
    sed -n "s|^+ [^ ]*/$2 .*(host pid \([0-9]*\))\$|\1|p" "$1"
}

# alive PID...: succeeds when one of these processes still exists (zombies
# count as gone: they have released everything).
alive() {
    local pid state
    for pid in "$@"; do
        state=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
        [[ "$state" == Z* ]] || return 0
    done
    return 1
}

gone() { ! alive "$@"; }

# has_process PATTERN: a process of ours has a command line matching PATTERN.
has_process() { pgrep -u "$(id -u)" -f "$1" >/dev/null; }
no_process() { ! has_process "$1"; }

# Stop what the test left running, then check that nothing remains.
stop_background() {
    local pid
    for pid in "${NET_BG[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${NET_BG[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    NET_BG=()
}
