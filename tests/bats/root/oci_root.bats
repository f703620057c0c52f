#!/usr/bin/env bats
# unc as an OCI runtime run by the real root (oci/): no user namespace
# needed, the default state root /run/unc-oci, namespaces joined by path.

load ../helpers
load ../oci_helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    setup_oci
}

teardown() {
    [ "$(id -u)" -eq 0 ] || return 0
    teardown_oci
    [ -z "${NETNS:-}" ] || ip netns delete "$NETNS"
}

@test "as root: a bundle without a user namespace runs with every id, as runc's default" {
    oci_bundle "$BUNDLE" '["sh", "-c", "cat /proc/self/uid_map; echo $$; ls /dev/null /dev/urandom"]' \
        'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]' \
        'del c["linux"]["uidMappings"], c["linux"]["gidMappings"]'
    oci_create r1 --pid-file "$SCRATCH/pid"
    oci start r1
    oci_wait_stopped r1
    run cat "$SCRATCH/r1.out"
    assert_line --index 0 --regexp '^ +0 +0 +4294967295$'
    assert_line --index 1 "1"
    assert_line --index 2 "/dev/null"
    oci delete r1
}

@test "as root: the default state root is /run/unc-oci" {
    oci_bundle "$BUNDLE" '["sleep", "1000"]'
    id=unc-test-root-$$
    "$UNC" create --bundle "$BUNDLE" "$id" > /dev/null 2>&1 < /dev/null
    [ -f "/run/unc-oci/$id/state.json" ]
    run -0 "$UNC" state "$id"
    assert_output --partial '"status": "created"'
    "$UNC" delete --force "$id"
    [ ! -e "/run/unc-oci/$id" ]
}

@test "as root: a network namespace given by path is joined, the others created" {
    NETNS=unc-oci-test-$$
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo mtu 1234          # what tells this namespace apart
    oci_bundle "$BUNDLE" '["sh", "-c", "ip -o link show lo | grep -c \"mtu 1234\"; hostname"]' \
        'c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount")] + [{"type": "network", "path": "/run/netns/'"$NETNS"'"}]' \
        'del c["linux"]["uidMappings"], c["linux"]["gidMappings"]'
    oci_create r3
    oci start r3
    oci_wait_stopped r3
    assert_equal "$(cat "$SCRATCH/r3.out")" "$(printf '1\nocibox')"
    oci delete r3
}

@test "as root: a user namespace whose map leaves out the host's root (host 100000 as 0)" {
    oci_bundle "$BUNDLE" '["sh", "-c", "id -u; id -g; cat /proc/self/uid_map; touch /tmp/f && stat -c %u /tmp/f"]' \
        'c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 2000}]' \
        'c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 2000}]'
    oci_create u1 || { cat "$SCRATCH/u1.err"; false; }
    oci start u1
    oci_wait_stopped u1
    assert_equal "$(cat "$SCRATCH/u1.out" "$SCRATCH/u1.err" | tr -s ' ')" "$(printf '0\n0\n 0 100000 2000\n0')"
}

@test "as root: a capability unc does not hold fails create with one line, nothing left" {
    oci_bundle "$BUNDLE" '["true"]' \
        'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]' \
        'del c["linux"]["uidMappings"], c["linux"]["gidMappings"]' \
        'c["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_SYS_NICE"] for k in ("bounding", "effective", "permitted")}'
    # unc started without CAP_SYS_NICE, as on a machine that cannot grant it.
    run -125 --separate-stderr setpriv --bounding-set -sys_nice \
        "$UNC" --root "$OCI_ROOT" create --bundle "$BUNDLE" k1
    assert_equal "$stderr" "unc: process.capabilities.effective: CAP_SYS_NICE cannot be granted: unc does not hold it here (capset: Operation not permitted); leave it out"
    [ ! -e "$OCI_ROOT/k1" ]
    oci_create k1
    oci start k1
    oci_wait_stopped k1
    assert_equal "$(cat "$SCRATCH/k1.err")" ""
}

@test "as root without a user namespace: linux.devices are made with mknod from their numbers" {
    oci_bundle "$BUNDLE" '["sh", "-c", "stat -c \"%n %F %t:%T %a %u:%g\" /dev/test1 /dev/test2 /dev/test3"]' \
        'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]' \
        'del c["linux"]["uidMappings"], c["linux"]["gidMappings"]' \
        'c["linux"]["devices"] = [{"path": "/dev/test1", "type": "c", "major": 99, "minor": 1, "fileMode": 0o640, "uid": 1, "gid": 2}, {"path": "/dev/test2", "type": "b", "major": 99, "minor": 2}, {"path": "/dev/test3", "type": "p"}]'
    oci_create d1
    oci start d1
    oci_wait_stopped d1
    assert_equal "$(cat "$SCRATCH/d1.out" "$SCRATCH/d1.err")" "$(printf '%s\n' \
        '/dev/test1 character special file 63:1 640 1:2' \
        '/dev/test2 block special file 63:2 666 0:0' \
        '/dev/test3 fifo 0:0 666 0:0')"
}
