# Shared by the OCI runtime tests (oci.bats, root/oci_root.bats): bundles
# the tests write, and unc as runc's command line with a state root of the
# test's own.

# oci_bundle DIR JSON-ARGS...: DIR/config.json for the busybox root
# ($ROOTFS, bound as DIR/rootfs by a symlink-free copy of its path), with
# the process args given as a JSON list, and extra settings as Python
# assignments to `c` (the config dict), e.g. 'c["hostname"] = "box"'.
oci_bundle() {
    local dir=$1 args=$2; shift 2
    mkdir -p "$dir"
    python3 - "$dir" "$ROOTFS" "$args" "$(id -u)" "$(id -g)" "$@" <<'PY'
import json, sys
dir, rootfs, args, uid, gid = sys.argv[1:6]
c = {"ociVersion": "1.0.2",
     "process": {"args": json.loads(args), "cwd": "/", "user": {"uid": 0, "gid": 0},
                 "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]},
     "root": {"path": rootfs}, "hostname": "ocibox",
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}],
     "linux": {"namespaces": [{"type": t} for t in
                              ("pid", "network", "ipc", "uts", "mount", "user")],
               "uidMappings": [{"containerID": 0, "hostID": int(uid), "size": 1}],
               "gidMappings": [{"containerID": 0, "hostID": int(gid), "size": 1}]}}
for statement in sys.argv[6:]:
    exec(statement)
json.dump(c, open(dir + "/config.json", "w"), indent=1)
PY
}

# oci ARG...: unc as an OCI runtime, with the state root $OCI_ROOT.
oci() {
    "$UNC" --root "$OCI_ROOT" "$@"
}

setup_oci() {
    setup_scratch
    OCI_ROOT=$SCRATCH/state
    BUNDLE=$SCRATCH/bundle
}

# teardown_oci: every container the test left is deleted with --force, and
# the test fails if a process of one outlives that.
teardown_oci() {
    local id pid pids= left=
    for id in $(oci list -q 2>/dev/null); do
        pid=$(oci state "$id" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
        pids="$pids $pid"
        oci delete --force "$id" || left="$left $id"
    done
    for pid in $pids; do
        if [ "$pid" != 0 ] && grep -qs '^State:.*[RSD]' "/proc/$pid/status"; then
            left="$left pid$pid"
        fi
    done
    teardown_scratch
    [ -z "$left" ] || { echo "left behind:$left" >&2; return 1; }
}

# oci_status ID: the status field of `state ID`.
oci_status() {
    oci state "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'
}

# oci_wait_stopped ID: until the container's PID 1 is gone (bounded).
oci_wait_stopped() {
    local i
    for i in $(seq 500); do
        [ "$(oci_status "$1")" = stopped ] && return 0
        sleep 0.01
    done
    return 1
}

# oci_create ID [OPTION...]: create ID from $BUNDLE. The container's PID 1
# keeps create's stdin, stdout and stderr (as with runc, where conmon
# passes its pipes): they are files, $SCRATCH/ID.out and ID.err, so that
# no test waits for a pipe the container holds.
oci_create() {
    local id=$1; shift
    oci create --bundle "$BUNDLE" "$@" "$id" > "$SCRATCH/$id.out" 2> "$SCRATCH/$id.err" </dev/null
}
