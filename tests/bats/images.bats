#!/usr/bin/env bats
# Images (issue 13): `unc import` of each input form, the store, safe
# unpacking, `unc images`, `unc rmi`, and runs of an image (--image, a
# fresh writable layer per run, --persist, --read-only, the image's config).
# The images are made by mkimages.py from the busybox ROOTFS; the store is
# this file's own (XDG_DATA_HOME). Pulls from a registry: registry.bats.

load helpers
load identity_helpers

setup_file() {
    export XDG_DATA_HOME=$BATS_FILE_TMPDIR/data
    export IMAGES=$BATS_FILE_TMPDIR/images
    export STORE=$XDG_DATA_HOME/unc
    "$PYTHON" "$BATS_TEST_DIRNAME/mkimages.py" "$ROOTFS" "$IMAGES"
    "$UNC" import "$IMAGES/layout" multi
}

teardown_file() {
    # Layers imported with --map-auto hold files of subordinate ids.
    "$UNC" --stage=user_pid --map-auto rm -rf "$BATS_FILE_TMPDIR/data" >/dev/null 2>&1 || true
    rm -rf "$BATS_FILE_TMPDIR/data" 2>/dev/null || true
}

setup() {
    require_unprivileged
    setup_scratch
}

teardown() { teardown_scratch_mapped; }

# Nothing of a refused import: no record, no work in progress left, no new
# layer, nothing escaped to /tmp.
assert_nothing_kept() {   # assert_nothing_kept LAYERS_BEFORE
    run ls "$STORE/tmp"
    assert_output ""
    [ ! -e "$STORE/images/h%3Alatest.json" ] && [ ! -e "$STORE/images/h:latest.json" ]
    assert_equal "$(ls "$STORE/layers" | wc -l)" "$1"
    [ ! -e /tmp/unc-escaped-abs ] && [ ! -e /tmp/unc-escaped-sym ] \
        && [ ! -e /tmp/unc-escaped-hl ] && [ ! -e "$BATS_FILE_TMPDIR/escaped" ]
}

@test "import: each form of the same image, and a rootfs tarball of each compression" {
    for form in layout.tar save.tar; do
        run --separate-stderr "$UNC" import "$IMAGES/$form" "f-$form"
        assert_success
        assert_output ""
        assert_equal "$stderr" ""                 # no progress off a terminal
        run "$UNC" --image "f-$form" cat /etc/keep
        assert_success
        assert_output kept
    done
    for form in rootfs.tar rootfs.tar.gz rootfs.tar.xz rootfs.tar.zst; do
        [ -e "$IMAGES/$form" ] || { [ "$form" = rootfs.tar.zst ] && continue; }
        run "$UNC" import "$IMAGES/$form" "r-$form"
        assert_success
        run "$UNC" --image "r-$form" sh -c 'echo $(ls /bin/busybox) on $(cat /proc/1/comm)'
        assert_output "/bin/busybox on sh"
    done
}

@test "the store: layers shared between images, named by their diff_id" {
    "$UNC" import "$IMAGES/layout.tar" shared1
    "$UNC" import "$IMAGES/save.tar" shared2
    run "$UNC" images
    assert_line --regexp '^NAME +DIGEST +SIZE +CREATED$'
    assert_line --regexp '^multi:latest +[0-9a-f]{12} +[0-9.]+ [kM]B +2026-01-02 03:04:05$'
    # Three forms of one image: three layer directories, not nine.
    for diff_id in $(sed -n 's/.*"\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/images/multi:latest.json" \
                     | grep -v "$(sed -n 's/.*"digest": "\(.*\)".*/\1/p' "$STORE/images/multi:latest.json")"); do
        :
    done
    [ "$(ls "$STORE/layers" | grep -c -v '\.ids$')" -ge 3 ]
    run "$UNC" images -q
    assert_line multi:latest
    assert_line shared1:latest
    assert_line shared2:latest
}

@test "a deleted file is absent, an opaque directory shows only its layer, links stay" {
    run "$UNC" --image multi sh -c 'ls /etc/gone; ls /data; cat /data/hard; readlink /data/soft;
        stat -c %h /data/new'
    assert_output - <<'OUT'
ls: /etc/gone: No such file or directory
hard
new
soft
new
/etc/keep
2
OUT
}

@test "the image's config applies: Env, WorkingDir, Cmd; the command line wins" {
    run "$UNC" --image multi
    assert_success
    assert_output new                              # Cmd: cat /data/new
    run "$UNC" --image multi sh -c 'echo $PWD $FROM_IMAGE $PATH'
    assert_output "/data yes /usr/sbin:/usr/bin:/sbin:/bin"
    run "$UNC" --image multi -w /etc -e FROM_IMAGE=no sh -c 'echo $PWD $FROM_IMAGE'
    assert_output "/etc no"
}

@test "a run's writes are its own and gone afterwards; --persist keeps them" {
    run "$UNC" --image multi sh -c 'echo mine > /etc/keep; rm /data/new; cat /etc/keep'
    assert_output mine
    run "$UNC" --image multi sh -c 'cat /etc/keep /data/new'
    assert_output $'kept\nnew'
    # Two at once: each sees its own write only.
    "$UNC" --image multi sh -c 'echo one > /w; sleep 1; cat /w' > "$SCRATCH/one" &
    "$UNC" --image multi sh -c 'echo two > /w; sleep 1; cat /w' > "$SCRATCH/two"
    wait
    assert_equal "$(cat "$SCRATCH/one") $(cat "$SCRATCH/two")" "one two"
    "$UNC" --image multi --persist "$SCRATCH/keep" sh -c 'echo kept > /new-file; rm /etc/keep'
    run "$UNC" --image multi --persist "$SCRATCH/keep" sh -c 'cat /new-file; ls /etc/keep'
    assert_output $'kept\nls: /etc/keep: No such file or directory'
    [ -f "$SCRATCH/keep/upper/new-file" ]
    run "$UNC" --image multi --read-only touch /x
    assert_failure
    assert_output --partial "Read-only file system"
}

@test "ownership: the caller's by default, kept through the subordinate range with --map-auto" {
    require_subids
    run "$UNC" --image multi stat -c %u:%g /etc/www
    assert_output 0:0
    [ "$(stat -c %u "$STORE/layers/$(ls "$STORE/layers" | head -n 1)")" -eq "$(id -u)" ]
    "$UNC" import --map-auto "$IMAGES/layout" owned
    run "$UNC" --image owned stat -c %u:%g /etc/www
    assert_output 33:33
    local file
    file=$(find "$STORE/layers" -path '*.ids/etc/www' | head -n 1)
    assert_equal "$(stat -c %u:%g "$file")" "$(host_uid 33):$(host_gid 33)"
    run "$UNC" --image owned --map-root-user stat -c %u /etc/www
    assert_output 65534                            # not mapped: nobody
}

@test "hostile archives: each escape refused with 125 and one line, nothing kept" {
    local before name
    before=$(ls "$STORE/layers" | wc -l)
    for name in dotdot absolute symlink-parent hardlink-parent hardlink-outside hardlink-absolute; do
        run -125 --separate-stderr "$UNC" import "$IMAGES/hostile/$name.tar" h
        assert_unc_error "refused member" "nothing of it was kept"
        assert_nothing_kept "$before"
    done
    run -125 --separate-stderr "$UNC" import "$IMAGES/hostile/truncated.tar.gz" h
    assert_unc_error "truncated.tar.gz" "nothing of it was kept"
    run -125 --separate-stderr "$UNC" import "$IMAGES/hostile/truncated.tar" h
    assert_unc_error "truncated.tar"
    assert_nothing_kept "$before"
}

@test "a blob that does not match its digest, an image for another architecture: 125" {
    local before
    before=$(ls "$STORE/layers" | wc -l)
    run -125 --separate-stderr "$UNC" import "$IMAGES/hostile/bad-digest" h
    assert_unc_error "does not match its digest" "tampered"
    run ls "$STORE/tmp"
    assert_output ""
    [ ! -e "$STORE/images/h:latest.json" ]
    run -125 --separate-stderr "$UNC" import "$IMAGES/hostile/arm64" h
    assert_unc_error "linux/arm64" "--platform"
}

@test "device nodes are skipped, with a note under --trace" {
    run --separate-stderr "$UNC" import --trace "$IMAGES/hostile/device.tar" dev
    assert_success
    [[ "$stderr" == *"device node dev/null skipped"* ]] || fail "$stderr"
    run "$UNC" --image dev --stage=user_pid true
}

@test "a full disk: 125, one line, nothing partial in the store" {
    # A 1 MB tmpfs as the store, in a user and mount namespace of its own.
    run -125 --separate-stderr unshare -Urm sh -c '
        mount -t tmpfs -o size=1m tmpfs "$1" && XDG_DATA_HOME=$1 "$2" import "$3" big
        status=$?; find "$1/unc/tmp" "$1/unc/images" -mindepth 1; exit $status' sh \
        "$SCRATCH" "$UNC" "$IMAGES/rootfs.tar"
    assert_unc_error "No space left on device" "nothing of it was kept"
}

@test "a killed import leaves nothing trusted; the next one sweeps it" {
    # 64 MB that take a while to unpack; killed halfway.
    head -c 64000000 /dev/urandom > "$SCRATCH/big"
    tar -C "$SCRATCH" -cf "$SCRATCH/big.tar" big
    rm "$SCRATCH/big"
    "$UNC" import "$SCRATCH/big.tar" killed & pid=$!
    for _ in $(seq 50); do
        [ -n "$(ls "$STORE/tmp")" ] && break
        sleep 0.02
    done
    kill -9 "$pid"
    wait "$pid" || true
    [ ! -e "$STORE/images/killed:latest.json" ]
    "$UNC" import "$IMAGES/rootfs.tar.gz" next
    run ls "$STORE/tmp"
    assert_output ""
}

@test "two imports of the same image at once: one waits, both succeed, one record" {
    "$UNC" import "$IMAGES/layout.tar" twice & pid=$!
    "$UNC" import "$IMAGES/layout.tar" twice
    wait "$pid"
    run "$UNC" images -q
    assert_equal "$(grep -c '^twice:latest$' <<<"$output")" 1
    run ls "$STORE/tmp"
    assert_output ""
}

@test "rmi removes an image and the layers no other image uses" {
    "$UNC" import "$IMAGES/rootfs.tar.xz" gone-soon
    local layers
    layers=$(ls "$STORE/layers" | wc -l)
    "$UNC" import "$IMAGES/layout" multi-again
    assert_equal "$(ls "$STORE/layers" | wc -l)" "$layers"      # all shared
    run "$UNC" rmi multi-again
    assert_success
    assert_output ""
    assert_equal "$(ls "$STORE/layers" | wc -l)" "$layers"      # multi uses them
    run "$UNC" --image multi cat /etc/keep
    assert_output kept
    run -125 --separate-stderr "$UNC" rmi no-such-image
    assert_unc_error "no image no-such-image"
}

@test "--image errors: with --rootfs, an unknown image, --persist alone" {
    run -125 --separate-stderr "$UNC" --image multi --rootfs "$ROOTFS" true
    assert_unc_error "--image and --rootfs"
    run -125 --separate-stderr "$UNC" --image nothing-like-it true
    assert_unc_error "no image nothing-like-it" "unc pull"
    run -125 --separate-stderr "$UNC" --persist "$SCRATCH/p" true
    assert_unc_error "--persist needs --image"
    run -125 --separate-stderr "$UNC" import "$SCRATCH/none" x
    assert_unc_error "no such file"
    run -125 --separate-stderr "$UNC" import
    assert_unc_error "usage: unc import"
}

@test "without overlayfs: --persist=DIR with DIR/root runs a copy of the image there" {
    mkdir -p "$SCRATCH/copy/root"
    run "$UNC" --image multi --persist "$SCRATCH/copy" sh -c 'ls /etc/gone; ls /data; echo w > /written'
    assert_output $'ls: /etc/gone: No such file or directory\nhard\nnew\nsoft'
    [ -f "$SCRATCH/copy/root/written" ] && [ -f "$SCRATCH/copy/root/bin/busybox" ]
    run "$UNC" --image multi --persist "$SCRATCH/copy" cat /written
    assert_output w
}
