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
