#!/usr/bin/env bats
# Detached containers when root runs unc (issue 15, item 1): the state in
# /run/unc/containers whatever XDG_RUNTIME_DIR says, exec with root's ids,
# the bridge network's veth gone after rm
# (the bridge unc0 stays, as after any run).

load ../helpers

T="timeout 20"

teardown() {
    [ -z "${ID:-}" ] || timeout 20 "$UNC" rm -f "$ID" || true
}

@test "as root: -d keeps the state in /run/unc/containers; exec -u any id; rm leaves nothing" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    XDG_RUNTIME_DIR=/nonexistent run -0 --separate-stderr "$UNC" -d --map-users=0:0:1 --map-users=4242:4242:1 --map-groups=0:0:1 --map-groups=4242:4242:1 --rootfs "$ROOTFS" sleep 1000
    ID=$output
    [ -d "/run/unc/containers/$ID" ]
    assert_equal "$(stat -c %a /run/unc)" 700
    run -0 $T "$UNC" exec -u 4242:4242 "${ID:0:12}" id -u
    assert_output 4242
    run -0 $T "$UNC" exec "$ID" cat /etc/rootfs-marker
    assert_output "only in the test rootfs"
    pid=$("$UNC" ps --format=json | python3 -c 'import json, sys; print([c["pid"] for c in json.load(sys.stdin) if c["id"] == sys.argv[1]][0])' "$ID")
    run -0 $T "$UNC" exec "$ID" readlink /proc/self/ns/mnt
    assert_output "$(readlink /proc/$pid/ns/mnt)"
    run -0 $T "$UNC" rm -f "$ID"
    [ ! -e "/run/unc/containers/$ID" ]
    ! kill -0 "$pid" 2>/dev/null
    ID=
}

@test "as root: --net=bridge detached, exec reaches the server, rm removes the veth" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    before=$(ls /sys/class/net | grep '^uncv' || true)
    run -0 --separate-stderr "$UNC" -d --net=bridge --rootfs "$ROOTFS" httpd -f -p 8080
    ID=$output
    run -0 $T sh -c 'for i in $(seq 50); do "$0" exec "$1" wget -qO- http://127.0.0.1:8080/etc/rootfs-marker && exit; sleep 0.1; done; exit 1' "$UNC" "$ID"
    assert_output "only in the test rootfs"
    [ "$(ls /sys/class/net | grep '^uncv' || true)" != "$before" ]
    run -0 $T "$UNC" rm -f "$ID"
    assert_equal "$(ls /sys/class/net | grep '^uncv' || true)" "$before"
    ID=
}
