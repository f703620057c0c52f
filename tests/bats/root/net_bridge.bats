#!/usr/bin/env bats
# Stage net as root: --net=bridge (the bridge unc0, 10.100.42.1/24, a veth
# pair per container), and the user-mode helpers run by root. Only unc0,
# the host's loopback and the namespaces unc creates are used.

load ../helpers
load ../net_helpers

# unc leaves unc0 in place, as Docker leaves docker0; the tests leave the
# machine as they found it.
setup_file() {
    if [ -e /sys/class/net/unc0 ]; then export UNC0_WAS_THERE=1; fi
}

teardown_file() {
    if [ "$(id -u)" -eq 0 ] && [ -z "${UNC0_WAS_THERE:-}" ] && [ -e /sys/class/net/unc0 ]; then
        ip link del unc0
    fi
}

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    setup_scratch
    mkdir -p "$SCRATCH/www"
    echo "served by the container $BATS_TEST_NUMBER" > "$SCRATCH/www/index.html"
    echo "served by the host $BATS_TEST_NUMBER" > "$SCRATCH/www/host.txt"
}

teardown() {
    stop_background
    teardown_scratch
}

# The container's address and host-side veth, from a --trace log.
address_of() { sed -n 's|^+ .*/ip addr add \(10\.100\.42\.[0-9]*\)/24 dev eth0 .*|\1|p' "$1"; }
veth_of() { sed -n 's|^+ [^ ]*/ip link add \(uncv[0-9]*\) type veth .*|\1|p' "$1"; }

@test "bridge: eth0 on unc0 with an address of 10.100.42.0/24 and the default route" {
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" --net=bridge sh -c '
        ip -o -4 addr show eth0 | grep -o "inet [0-9./]*"; ip route show default'
    address=$(address_of <(printf '%s\n' "$stderr"))
    [[ "$address" == 10.100.42.* ]]
    assert_line --index 0 "inet $address/24"
    assert_line --index 1 --regexp '^default via 10\.100\.42\.1 dev eth0'
    run -0 ip -o -4 addr show unc0
    assert_output --partial "inet 10.100.42.1/24"
    # The host end of the pair went with the container.
    veth=$(veth_of <(printf '%s\n' "$stderr"))
    [ -n "$veth" ]
    [ ! -e "/sys/class/net/$veth" ]
}

@test "bridge: host to container and container to host over unc0" {
    start_unc "$SCRATCH/log" --trace --rootfs "$ROOTFS" --net=bridge \
        -v "$SCRATCH/www:/var/www:ro" httpd -f -p 80 -h /var/www
    retry 100 grep -q 'execve /.*httpd' "$SCRATCH/log"
    address=$(address_of "$SCRATCH/log")
    [ -n "$address" ]
    run -0 retry 100 curl -fs "http://$address/"
    assert_output "served by the container $BATS_TEST_NUMBER"

    port=$(free_port)
    host_http 10.100.42.1 "$port" "$SCRATCH/www"
    run -0 "$UNC" --rootfs "$ROOTFS" --net=bridge wget -qO- "http://10.100.42.1:$port/host.txt"
    assert_output "served by the host $BATS_TEST_NUMBER"

    veth=$(veth_of "$SCRATCH/log")
    kill -TERM "$UNC_PID"
    wait "$UNC_PID" || true
    [ ! -e "/sys/class/net/$veth" ]
}

@test "bridge: two containers at once get different addresses" {
    start_unc "$SCRATCH/a" --trace --rootfs "$ROOTFS" --net=bridge sleep 31339
    retry 100 grep -q 'execve /.*sleep' "$SCRATCH/a"
    first=$(address_of "$SCRATCH/a")
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" --net=bridge \
        sh -c 'ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"'
    second=$(address_of <(printf '%s\n' "$stderr"))
    [ -n "$first" ]
    [ -n "$second" ]
    [ "$first" != "$second" ]
    assert_output "inet $second"
    # Each reaches the other across the bridge.
    run -0 "$UNC" --rootfs "$ROOTFS" --net=bridge ping -c 1 -W 5 "$first"
}

@test "bridge: containers started together never share an address" {
    for i in 1 2 3 4; do
        "$UNC" --trace --rootfs "$ROOTFS" --net=bridge true 2>"$SCRATCH/log$i" 3>&- &
        NET_BG+=($!)
    done
    for pid in "${NET_BG[@]}"; do wait "$pid"; done
    NET_BG=()
    run -0 sh -c "cat $SCRATCH/log1 $SCRATCH/log2 $SCRATCH/log3 $SCRATCH/log4 \
        | sed -n 's|^+ .* ip addr add \(10\.100\.42\.[0-9]*\)/24 dev eth0 .*|\1|p' | sort | uniq -d"
    assert_output ""
    for i in 1 2 3 4; do
        [ -n "$(address_of "$SCRATCH/log$i")" ]
        veth=$(veth_of "$SCRATCH/log$i")
        [ ! -e "/sys/class/net/$veth" ]
    done
}

@test "bridge: -p 127.0.0.1:HOSTPORT:80 reaches the container through the forwarder" {
    port=$(free_port)
    start_unc "$SCRATCH/log" --trace --rootfs "$ROOTFS" --net=bridge \
        -p "127.0.0.1:$port:80" -v "$SCRATCH/www:/var/www:ro" httpd -f -p 80 -h /var/www
    run -0 retry 100 curl -fs "http://127.0.0.1:$port/"
    assert_output "served by the container $BATS_TEST_NUMBER"
    forwarder=$(sed -n 's|^+ port forwarder started (pid \([0-9]*\))$|\1|p' "$SCRATCH/log")
    [ -n "$forwarder" ]
    alive "$forwarder"
    kill -TERM "$UNC_PID"
    wait "$UNC_PID" || true
    gone "$forwarder"
    run -7 curl -fsS "http://127.0.0.1:$port/"
}

@test "bridge: a SIGKILLed unc leaves no veth and no forwarder" {
    port=$(free_port)
    start_unc "$SCRATCH/log" --trace --rootfs "$ROOTFS" --net=bridge \
        -p "127.0.0.1:$port:80" sleep 31340
    retry 100 grep -q 'execve /.*sleep' "$SCRATCH/log"
    veth=$(veth_of "$SCRATCH/log")
    forwarder=$(sed -n 's|^+ port forwarder started (pid \([0-9]*\))$|\1|p' "$SCRATCH/log")
    [ -e "/sys/class/net/$veth" ]
    alive "$forwarder"
    has_process "^sleep 31340\$"
    kill -KILL "$UNC_PID"
    # The kernel deletes the pair with the container's network namespace.
    retry 100 test ! -e "/sys/class/net/$veth"
    retry 100 gone "$forwarder"
    retry 100 no_process "^sleep 31340\$"
}

@test "as root, slirp4netns and pasta work too" {
    command -v slirp4netns >/dev/null || skip "slirp4netns is not installed (Debian package slirp4netns)"
    command -v pasta >/dev/null || skip "pasta is not installed (Debian package passt)"
    port=$(free_port)
    host_http 127.0.0.1 "$port" "$SCRATCH/www"
    run -0 "$UNC" --rootfs "$ROOTFS" --net=slirp4netns wget -qO- "http://10.0.2.2:$port/host.txt"
    assert_output "served by the host $BATS_TEST_NUMBER"
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" --net=pasta sh -c "
        gw=\$(ip route | awk '/^default/ {print \$3}')
        wget -qO- http://\$gw:$port/host.txt"
    assert_output "served by the host $BATS_TEST_NUMBER"
    # Root's pasta keeps uid 0, so its parent-death signal stays armed.
    [[ "$stderr" == *"--runas 0"* ]]
    helpers=$(helper_pids <(printf '%s\n' "$stderr") pasta)
    [ -n "$helpers" ]
    gone $helpers
}

@test "a /dev/net/tun of mode 0600 (no udev) is named in a user's error, and auto falls back to none" {
    id unc-test >/dev/null 2>&1 || skip "needs the user unc-test that tests/run creates"
    # A private mount namespace with its own 0600 tun node: the host's stays as it is.
    run -0 unshare -m sh -c '
        mount --make-rprivate / && mount -t tmpfs tmpfs /dev/net &&
        mknod -m 600 /dev/net/tun c 10 200 && cd / &&
        runuser -u unc-test -- "$0" --net=slirp4netns true 2>&1
        echo "status $?"
        trace=$(runuser -u unc-test -- "$0" --trace --net=auto true 2>&1)
        echo "status $?"
        printf "%s\n" "$trace" | grep -e "--net=auto"' "$UNC"
    assert_line --index 0 "unc: --net=slirp4netns needs /dev/net/tun, which you may not open (it is mode 0600); as root, run chmod 666 /dev/net/tun, as Debian's udev rules do on an ordinary host"
    assert_line --index 1 "status 125"
    assert_line --index 2 "status 0"
    assert_line --index 3 --regexp "needs /dev/net/tun, which you may not open .*: using none$"
    # unc check: tests/bats/root/root.bats
    [ "$(stat -c %a /dev/net/tun)" != 600 ]
}
