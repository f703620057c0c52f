#!/usr/bin/env bats
# Podman drives unc as its OCI runtime (oci/), rootless: Debian's podman
# 4.3 and conmon 2.1 as real clients, with containers storage of this
# file's own (a temporary HOME and XDG directories) and an image made
# offline: `podman import` of a tarball of the busybox root ($ROOTFS).

load helpers

setup_file() {
    command -v podman >/dev/null && command -v conmon >/dev/null \
        || skip "needs Debian's podman and conmon (build.sh's TEST_DEBS)"
    PODMAN_DIR=$(mktemp -d /tmp/unc-podman.XXXXXX)
    export HOME=$PODMAN_DIR/home XDG_RUNTIME_DIR=$PODMAN_DIR/run
    export XDG_CONFIG_HOME=$PODMAN_DIR/home/.config XDG_DATA_HOME=$PODMAN_DIR/home/.local/share
    export PODMAN_DIR
    mkdir -p "$HOME" "$XDG_CONFIG_HOME/containers" "$XDG_RUNTIME_DIR"
    chmod 700 "$XDG_RUNTIME_DIR"
    # No systemd user session in the suite: cgroupfs (which rootless
    # podman on a cgroup v1 or hybrid host leaves alone) and file events.
    printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
        > "$XDG_CONFIG_HOME/containers/containers.conf"
    tar -C "$ROOTFS" -cf "$PODMAN_DIR/rootfs.tar" .
    podman import -q "$PODMAN_DIR/rootfs.tar" unc-busybox >/dev/null 2>&1
}

teardown_file() {
    [ -n "${PODMAN_DIR:-}" ] || return 0
    podman rm -af -t 0 >/dev/null 2>&1 || true
    # The storage holds files of subordinate ids: removed inside podman's
    # user namespace, then its pause process ended.
    podman unshare rm -rf "$XDG_DATA_HOME" >/dev/null 2>&1 || true
    pause=$(cat "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid" 2>/dev/null) && kill "$pause" 2>/dev/null
    rm -rf "$PODMAN_DIR"
}

pd() {
    podman --runtime "$UNC" "$@"
}

# Nothing of a container is left: no process whose command line has
# MARKER, no state directory of unc's.
nothing_left() {
    local marker=$1
    ! pgrep -u "$(id -u)" -f -- "$marker" >/dev/null
    [ -z "$(ls -A "$XDG_RUNTIME_DIR/unc-oci" 2>/dev/null)" ]
}

@test "podman run --rm: PID 1 and root in the container, the command's exit status" {
    run -0 --separate-stderr pd run --rm unc-busybox sh -c 'echo $$; id -u'
    assert_output "$(printf '1\n0')"
    run -3 --separate-stderr pd run --rm unc-busybox sh -c 'exit 3'
    run -0 --separate-stderr pd run --rm unc-busybox grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status
    assert_line "Seccomp:	2"
    nothing_left "unc-busybox"
    [ -z "$(pd ps -aq)" ]
}

@test "podman run -d, exec, logs, stop, rm" {
    run -0 --separate-stderr pd run -d --name unc-web unc-busybox sh -c 'echo started; exec sleep 4242'
    run -0 --separate-stderr pd exec unc-web sh -c 'echo in $(hostname); ps -o comm | grep -c sleep'
    assert_line --index 1 "1"
    run -0 --separate-stderr pd logs unc-web
    assert_output "started"
    run -0 --separate-stderr pd stop -t 1 unc-web
    run -0 --separate-stderr pd ps -a --format '{{.Status}}'
    assert_output --regexp '^Exited \(137\)'
    run -0 --separate-stderr pd rm unc-web
    nothing_left "sleep 4242"
}

@test "podman run -it and exec -it: the command has a terminal" {
    run -5 python3 "$BATS_TEST_DIRNAME/pty_driver.py" 'send=tty; echo $((6*7))\n' expect=/dev/pts/ \
        expect=42 'send=exit 5\n' exited -- podman --runtime "$UNC" run -it --rm unc-busybox sh
    nothing_left "unc-busybox"
    run -0 --separate-stderr pd run -d --name unc-tty unc-busybox sleep 4343
    run -6 python3 "$BATS_TEST_DIRNAME/pty_driver.py" 'send=tty; echo $((7*8))\n' expect=/dev/pts/ \
        expect=56 'send=exit 6\n' exited -- podman --runtime "$UNC" exec -it unc-tty sh
    run -0 --separate-stderr pd rm -f -t 0 unc-tty
    nothing_left "sleep 4343"
}

@test "podman run --userns=keep-id: your own uid inside" {
    run -0 --separate-stderr pd run --rm --userns=keep-id unc-busybox id -u
    assert_output "$(id -u)"
}

@test "podman run -p publishes a port on loopback" {
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    run -0 --separate-stderr pd run -d --name unc-httpd -p "127.0.0.1:$port:80" unc-busybox \
        sh -c 'mkdir /tmp/unc-www; echo served-by-unc > /tmp/unc-www/index.html; exec httpd -f -p 80 -h /tmp/unc-www'
    for i in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/index.html" > "$BATS_TEST_TMPDIR/page" && break
        sleep 0.05
    done
    assert_equal "$(cat "$BATS_TEST_TMPDIR/page")" "served-by-unc"
    run -0 --separate-stderr pd rm -f -t 0 unc-httpd
    nothing_left "httpd -f -p 80 -h /tmp/unc-www"
}
