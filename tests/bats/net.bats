#!/usr/bin/env bats
# Stage net: the container's own network stack, as an unprivileged user.
# Only the host's loopback and the namespaces unc creates are used: the
# helpers' host-loopback addresses (10.0.2.2 for slirp4netns, the copied
# gateway for pasta) lead to the host's 127.0.0.1, never off the machine.

load helpers
load net_helpers

setup() {
    require_unprivileged
    setup_scratch
    mkdir -p "$SCRATCH/www"
    echo "served by the container $BATS_TEST_NUMBER" > "$SCRATCH/www/index.html"
    echo "served by the host $BATS_TEST_NUMBER" > "$SCRATCH/www/host.txt"
    chmod -R a+rX "$SCRATCH"
}

teardown() {
    stop_background
    teardown_scratch
}

require_helper() {   # require_helper MODE PROGRAM PACKAGE
    command -v "$2" >/dev/null || skip "$2 is not installed (Debian package $3)"
    [ -r /dev/net/tun ] && [ -w /dev/net/tun ] \
        || skip "/dev/net/tun is not usable by $(id -un) (tests/run as root makes it 0666)"
}

# sigkill_leaves_nothing MODE SECONDS: SIGKILL the unc of a running
# `sleep SECONDS` container; its helper and processes must go.
sigkill_leaves_nothing() {
    start_unc "$SCRATCH/log" --trace --net="$1" sleep "$2"
    retry 100 grep -q 'execve /.*sleep' "$SCRATCH/log"
    helpers=$(helper_pids "$SCRATCH/log" "$1")
    [ -n "$helpers" ]
    alive $helpers
    has_process "^sleep $2\$"
    kill -KILL "$UNC_PID"
    retry 100 gone $helpers
    retry 100 no_process "^sleep $2\$"
}

# serves_published_port MODE PORT TRACED: busybox httpd in a --net=MODE
# container published on 127.0.0.1:PORT answers curl on the host; the trace
# shows TRACED (how the port was published); kill -TERM ends unc with 143
# and takes the helper along.
serves_published_port() {
    start_unc "$SCRATCH/log" --trace --net="$1" -p "127.0.0.1:$2:80" \
        --rootfs "$ROOTFS" -v "$SCRATCH/www:/var/www:ro" httpd -f -p 80 -h /var/www
    run -0 retry 100 curl -fs "http://127.0.0.1:$2/"
    assert_output "served by the container $BATS_TEST_NUMBER"
    grep -q -- "$3" "$SCRATCH/log"
    helpers=$(helper_pids "$SCRATCH/log" "$1")
    [ -n "$helpers" ]
    kill -TERM "$UNC_PID"
    status=0; wait "$UNC_PID" || status=$?
    assert_equal "$status" 143
    gone $helpers
}

# ------------------------------------------------------------------ none

@test "--net=none: only lo, and it is up" {
    run -0 "$UNC" --rootfs "$ROOTFS" --net=none ip -o link
    assert_equal "${#lines[@]}" 1
    assert_line --index 0 --regexp '^1: lo: <LOOPBACK,UP,LOWER_UP>'
}

@test "--net=none: a server on 127.0.0.1 inside answers a client inside" {
    run -0 "$UNC" --rootfs "$ROOTFS" --net=none -v "$SCRATCH/www:/var/www:ro" sh -c '
        httpd -p 127.0.0.1:8080 -h /var/www
        for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/ && exit; sleep 0.1; done
        exit 1'
    assert_output "served by the container $BATS_TEST_NUMBER"
}

@test "--net=none: the host's loopback services are out of reach" {
    port=$(free_port)
    host_http 127.0.0.1 "$port" "$SCRATCH/www"
    run -1 "$UNC" --rootfs "$ROOTFS" --net=none wget -qO- "http://127.0.0.1:$port/host.txt"
}

@test "--trace shows lo brought up with the SIOCSIFFLAGS ioctl" {
    run -0 --separate-stderr "$UNC" --net=none --trace true
    [[ "$stderr" == *"CLONE_NEWNET"* ]]
    [[ "$stderr" == *'ioctl(SIOCSIFFLAGS, "lo",'*"IFF_UP)"* ]]
}

# ------------------------------------------------------------------ host

@test "--net=host: the host's network namespace, no lo ioctl" {
    run -0 --separate-stderr "$UNC" --net=host --trace readlink /proc/self/ns/net
    assert_output "$(readlink /proc/self/ns/net)"
    [[ "$stderr" != *"CLONE_NEWNET"* ]]
    [[ "$stderr" != *"SIOCSIFFLAGS"* ]]
    run -0 "$UNC" --net=none readlink /proc/self/ns/net
    refute_output "$(readlink /proc/self/ns/net)"
}

# ------------------------------------------------------------------ bad input

@test "invalid --net and --publish values are refused before anything starts (125)" {
    run -125 --separate-stderr "$UNC" --net=wifi true
    assert_equal "$stderr" "unc: invalid --net 'wifi': use one of auto, none, slirp4netns, pasta, bridge, host"
    for bad in 80 0:80 65536:80 8080:0 8080:x a.b.c.d:8080:80 127.1:8080:80 \
               '[::1]:8080:80' 8080:80/sctp 1:2:3:4 ''; do
        run -125 --separate-stderr "$UNC" --net=slirp4netns -p "$bad" true
        [[ "$stderr" == "unc: invalid --publish '$bad': "* ]] || { echo "$bad: $stderr"; false; }
        assert_equal "${#stderr_lines[@]}" 1
        assert_output ""
    done
}

@test "--publish with --net=none or --net=host is refused (125)" {
    run -125 --separate-stderr "$UNC" --net=none -p 8080:80 true
    [[ "$stderr" == "unc: --publish cannot work with --net=none: "*"--net=pasta or --net=slirp4netns" ]]
    run -125 --separate-stderr "$UNC" --net=host -p 8080:80 true
    [[ "$stderr" == "unc: --publish cannot work with --net=host: "* ]]
}

@test "--net and -p need the net stage" {
    run -125 --separate-stderr "$UNC" --stage=mount --net=none true
    assert_equal "$stderr" "unc: --net needs --stage=net or a later stage"
    run -125 --separate-stderr "$UNC" --stage=uts -p 8080:80 true
    assert_equal "$stderr" "unc: --publish needs --stage=net or a later stage"
}

@test "--net=bridge as a user says to use slirp4netns or pasta (125)" {
    run -125 --separate-stderr "$UNC" --net=bridge true
    [[ "$stderr" == "unc: --net=bridge needs root"*"use --net=slirp4netns or --net=pasta" ]]
}

@test "a missing helper program is a 125 error naming the Debian package" {
    run -125 --separate-stderr env PATH=/nonexistent "$UNC" --net=slirp4netns true
    [[ "$stderr" == "unc: --net=slirp4netns needs the program slirp4netns"*"install the Debian package slirp4netns"* ]]
    run -125 --separate-stderr env PATH=/nonexistent "$UNC" --net=pasta true
    [[ "$stderr" == "unc: --net=pasta needs the program pasta"*"install the Debian package passt"* ]]
}

@test "a host port already in use is a 125 error naming it, and nothing starts" {
    require_helper slirp4netns slirp4netns slirp4netns
    port=$(free_port)
    host_http 127.0.0.1 "$port" "$SCRATCH/www"
    for mode in slirp4netns pasta; do
        run -125 --separate-stderr "$UNC" --trace --net=$mode -p "127.0.0.1:$port:80" true
        [[ "${stderr_lines[-1]}" == "unc: cannot publish 127.0.0.1:$port:80: host port $port/tcp is already in use on the host; choose another HOSTPORT" ]]
        [[ "$stderr" != *"unshare("* ]]
    done
}

# ------------------------------------------------------------------ auto

@test "--trace says which mode auto chose" {
    if command -v pasta >/dev/null && [ -w /dev/net/tun ]; then expected=pasta
    elif command -v slirp4netns >/dev/null && [ -w /dev/net/tun ]; then expected=slirp4netns
    else expected=none
    fi
    run -0 --separate-stderr "$UNC" --trace --net=auto true
    [[ "$stderr" == *"--net=auto: "*": using $expected"* ]]
}

@test "the default is --net=none: only lo, no helper started" {
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" ip -o link
    assert_equal "${#lines[@]}" 1
    assert_output --regexp '^1: lo: <LOOPBACK,UP'
    [[ "$stderr" != *slirp4netns* && "$stderr" != *pasta* ]]
}

@test "with -p and no --net, the default is auto" {
    require_helper slirp4netns slirp4netns slirp4netns
    port=$(free_port)
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" -p "127.0.0.1:$port:80" true
    [[ "$stderr" == *"--net=auto: "*": using "* ]]
}

@test "without a default route (an offline host) auto skips pasta, and --net=pasta says why" {
    require_helper pasta pasta passt
    require_helper slirp4netns slirp4netns slirp4netns
    # A network namespace of the test's own, with only lo, stands for the host.
    run -0 --separate-stderr unshare -Urn "$UNC" --trace --net=auto true
    [[ "$stderr" == *"--net=auto: "*"the host has no default route"*": using slirp4netns"* ]]
    run -125 --separate-stderr unshare -Urn "$UNC" --net=pasta true
    assert_equal "$stderr" "unc: --net=pasta cannot work here: pasta copies the host's address and default route, and the host has no default route; use --net=slirp4netns"
}

# ------------------------------------------------------------------ unc check

@test "unc check: the net line says which modes work, and why the others do not" {
    require_helper pasta pasta passt
    require_helper slirp4netns slirp4netns slirp4netns
    run -0 --separate-stderr "$UNC" check
    assert_line --index 3 "net       ok (--net=none, pasta and slirp4netns work)"
    # A network namespace of the test's own, with only lo, stands for an
    # offline host: pasta cannot work there, slirp4netns can.
    run -0 --separate-stderr unshare -Urn "$UNC" check
    assert_line --index 3 "net       ok (--net=none and slirp4netns work; --net=pasta cannot work here: pasta copies the host's address and default route, and the host has no default route; use --net=slirp4netns)"
}

@test "unc check fails (1) and names /dev/net/tun when no user-mode networking can work" {
    command -v pasta >/dev/null || skip "pasta is not installed (Debian package passt)"
    command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
    [ -c /dev/net/tun ] || skip "this host has no /dev/net/tun"
    # In a mount namespace of the test's own, a file the user may not open
    # (root's /etc/passwd) over /dev/net/tun, as a tun device of mode 0600.
    run -1 --separate-stderr unshare -Urm sh -c \
        'mount --bind /etc/passwd /dev/net/tun && exec "$0" check' "$UNC"
    assert_line --index 2 "mount     ok"
    assert_line --index 3 --regexp "^net       FAILED: -p, --net=pasta and --net=slirp4netns cannot work here, only --net=none: --net=pasta needs /dev/net/tun, which you may not open \(it is mode 0[0-7]{3}\); as root, run chmod 666 /dev/net/tun, as Debian's udev rules do on an ordinary host; --net=slirp4netns needs it too\$"
    assert_line --index 4 "harden    ok"
    assert_line --index 9 --regexp '^tun       /dev/net/tun, which you may not open \(it is mode 0[0-7]{3}\); as root, run chmod 666'
    assert_equal "${#lines[@]}" 14
    [ -z "$stderr" ]
}

@test "unc check fails (1) and names the Debian packages when no helper is installed" {
    run -1 --separate-stderr env PATH=/nonexistent "$UNC" check
    assert_line --index 2 "mount     ok"
    assert_line --index 3 "net       FAILED: -p, --net=pasta and --net=slirp4netns cannot work here, only --net=none: --net=pasta needs the program pasta, which is not installed; install the Debian package passt (apt-get install passt); --net=slirp4netns needs the program slirp4netns, which is not installed; install the Debian package slirp4netns (apt-get install slirp4netns)"
}

# ------------------------------------------------------------------ slirp4netns

@test "slirp4netns: tap0 10.0.2.100, and the host's 127.0.0.1 answers at 10.0.2.2" {
    require_helper slirp4netns slirp4netns slirp4netns
    port=$(free_port)
    host_http 127.0.0.1 "$port" "$SCRATCH/www"
    run -0 "$UNC" --rootfs "$ROOTFS" --net=slirp4netns sh -c "
        ip -o -4 addr show tap0 | grep -o 'inet [0-9./]*'
        wget -qO- http://10.0.2.2:$port/host.txt"
    assert_line --index 0 "inet 10.0.2.100/24"
    assert_line --index 1 "served by the host $BATS_TEST_NUMBER"
}

@test "slirp4netns: -p 127.0.0.1:HOSTPORT:80 serves busybox httpd to curl on the host" {
    require_helper slirp4netns slirp4netns slirp4netns
    port=$(free_port)
    serves_published_port slirp4netns "$port" '"add_hostfwd"'
    # The API socket and its directory went with the setup.
    api=$(sed -n 's|.*--api-socket=\([^ ]*\) .*|\1|p' "$SCRATCH/log")
    [ -n "$api" ]
    [ ! -e "$api" ]
    [ ! -e "$(dirname "$api")" ]
}

@test "slirp4netns: -p .../udp forwards datagrams" {
    require_helper slirp4netns slirp4netns slirp4netns
    port=$(free_port udp)
    # No --rootfs: the host's python3 serves inside, on the read-only host tree.
    start_unc "$SCRATCH/log" --net=slirp4netns -p "127.0.0.1:$port:5353/udp" \
        "$PYTHON" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(100); s.sendto(data.upper(), peer)'
    run -0 "$PYTHON" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
for _ in range(100):
    s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recv(100).decode()); break
    except (socket.timeout, ConnectionRefusedError):
        pass' "$port"
    assert_output "PING"
}

@test "slirp4netns: /etc/resolv.conf names 10.0.2.3; the rootfs file is untouched" {
    require_helper slirp4netns slirp4netns slirp4netns
    cp -a "$ROOTFS" "$SCRATCH/root"
    printf '# the rootfs own file\nsearch example.invalid\n' > "$SCRATCH/root/etc/resolv.conf"
    before=$(cat "$SCRATCH/root/etc/resolv.conf")
    run -0 "$UNC" --rootfs "$SCRATCH/root" --net=slirp4netns cat /etc/resolv.conf
    assert_line --index 0 "nameserver 10.0.2.3"
    assert_equal "$(cat "$SCRATCH/root/etc/resolv.conf")" "$before"
    run -0 "$UNC" --rootfs "$SCRATCH/root" --net=none cat /etc/resolv.conf
    assert_output "$before"
    # The user's own mount wins.
    echo "# the user's own" > "$SCRATCH/resolv.conf"
    run -0 "$UNC" --rootfs "$SCRATCH/root" --net=slirp4netns \
        -v "$SCRATCH/resolv.conf:/etc/resolv.conf:ro" cat /etc/resolv.conf
    assert_output "# the user's own"
}

@test "slirp4netns: a SIGKILLed unc takes the helper and the container with it" {
    require_helper slirp4netns slirp4netns slirp4netns
    sigkill_leaves_nothing slirp4netns 31337
}

@test "slirp4netns: ten containers in a row leave no slirp4netns process" {
    require_helper slirp4netns slirp4netns slirp4netns
    all=()
    for i in $(seq 10); do
        run -0 --separate-stderr "$UNC" --trace --net=slirp4netns true
        pid=$(sed -n 's|^+ [^ ]*/slirp4netns .*(host pid \([0-9]*\))$|\1|p' <<<"$stderr")
        [ -n "$pid" ]
        all+=("$pid")
    done
    assert_equal "${#all[@]}" 10
    gone "${all[@]}"
    run ps -o pid=,comm= -p "$(IFS=,; echo "${all[*]}")"
    refute_output --partial slirp4netns
}

# ------------------------------------------------------------------ pasta

@test "pasta: the host's 127.0.0.1 answers at the gateway's address" {
    require_helper pasta pasta passt
    port=$(free_port)
    host_http 127.0.0.1 "$port" "$SCRATCH/www"
    run -0 "$UNC" --rootfs "$ROOTFS" --net=pasta sh -c "
        gw=\$(ip route | awk '/^default/ {print \$3}')
        [ -n \"\$gw\" ] && wget -qO- http://\$gw:$port/host.txt"
    assert_output "served by the host $BATS_TEST_NUMBER"
}

@test "pasta: -p 127.0.0.1:HOSTPORT:80 serves busybox httpd to curl on the host" {
    require_helper pasta pasta passt
    port=$(free_port)
    serves_published_port pasta "$port" "-t 127.0.0.1/$port:80"
    run -7 curl -fsS "http://127.0.0.1:$port/"
}

@test "pasta: -p .../udp forwards datagrams into the container" {
    require_helper pasta pasta passt
    port=$(free_port udp)
    # Debian 12's pasta (2023-03) loses the replies to a client on the host's
    # loopback (its spliced UDP path); what unc configures is the way in.
    start_unc "$SCRATCH/log" --net=pasta -p "127.0.0.1:$port:5353/udp" \
        "$PYTHON" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5353))
print(s.recv(100).decode())'
    "$PYTHON" -c 'import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(100):
    try:
        os.kill(int(sys.argv[2]), 0)
    except ProcessLookupError:
        break
    s.sendto(b"ping %s" % sys.argv[3].encode(), ("127.0.0.1", int(sys.argv[1])))
    time.sleep(0.1)' "$port" "$UNC_PID" "$BATS_TEST_NUMBER"
    status=0; wait "$UNC_PID" || status=$?
    assert_equal "$status" 0
    assert_equal "$(cat "$SCRATCH/log.out")" "ping $BATS_TEST_NUMBER"
}

@test "pasta: /etc/resolv.conf reaches the host's resolver" {
    require_helper pasta pasta passt
    grep -q '^nameserver' /etc/resolv.conf || skip "the host's /etc/resolv.conf names no nameserver"
    run -0 "$UNC" --rootfs "$ROOTFS" --net=pasta cat /etc/resolv.conf
    if grep '^nameserver' /etc/resolv.conf | grep -qvE ' (127\.|::1)'; then
        assert_output "$(cat /etc/resolv.conf)"
    else
        assert_line --index 0 "nameserver 169.254.1.1"
    fi
}

@test "pasta: a SIGKILLed unc takes the helper and the container with it" {
    require_helper pasta pasta passt
    sigkill_leaves_nothing pasta 31338
}
