#!/usr/bin/env bats
# `unc pull` (issue 13) from a real registry on 127.0.0.1: Debian's
# docker-registry, started and stopped here, images put into it with
# skopeo from the layouts mkimages.py makes (and, where tests/run built
# the Debian fixture, a Debian 12 minbase). Anonymous pulls, bearer tokens
# (tokenproxy.py in front), OCI and Docker schema 2 manifests, an index
# with platform selection, a blob that does not match its digest.

load helpers
load identity_helpers

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {   # wait_port PORT
    local _
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/v2/" && return 0
        sleep 0.05
    done
    echo "nothing answers on 127.0.0.1:$1" >&2
    return 1
}

setup_file() {
    command -v docker-registry >/dev/null && command -v skopeo >/dev/null || return 0
    export XDG_DATA_HOME=$BATS_FILE_TMPDIR/data
    export IMAGES=$BATS_FILE_TMPDIR/images
    export STORE=$XDG_DATA_HOME/unc
    "$PYTHON" "$BATS_TEST_DIRNAME/mkimages.py" "$ROOTFS" "$IMAGES"
    PORT=$(free_port)
    export PORT REG=127.0.0.1:$PORT
    cat > "$BATS_FILE_TMPDIR/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $BATS_FILE_TMPDIR/registry
http:
  addr: 127.0.0.1:$PORT
YML
    docker-registry serve "$BATS_FILE_TMPDIR/registry.yml" >"$BATS_FILE_TMPDIR/registry.log" 2>&1 3>&- &
    echo $! > "$BATS_FILE_TMPDIR/registry.pid"
    wait_port "$PORT"
    local copy=(skopeo copy -q --dest-tls-verify=false)
    "${copy[@]}" "oci:$IMAGES/layout:multi" "docker://$REG/multi:1"
    "${copy[@]}" --all "oci:$IMAGES/layout-index:multi" "docker://$REG/index:1"
    "${copy[@]}" "docker-archive:$IMAGES/save.tar" "docker://$REG/schema2:1"
    "${copy[@]}" "oci:$IMAGES/hostile/arm64:arm" "docker://$REG/arm:1"
    # The bearer-token front.
    "$PYTHON" "$BATS_TEST_DIRNAME/tokenproxy.py" "$BATS_FILE_TMPDIR/token.port" "$REG" \
        alice secret >/dev/null 2>&1 3>&- &
    echo $! > "$BATS_FILE_TMPDIR/token.pid"
    for _ in $(seq 100); do [ -s "$BATS_FILE_TMPDIR/token.port" ] && break; sleep 0.05; done
}

teardown_file() {
    local f
    for f in registry.pid token.pid; do
        [ -s "$BATS_FILE_TMPDIR/$f" ] && kill "$(cat "$BATS_FILE_TMPDIR/$f")" 2>/dev/null
    done
    "$UNC" --stage=user_pid --map-auto rm -rf "$BATS_FILE_TMPDIR/data" >/dev/null 2>&1 || true
    rm -rf "$BATS_FILE_TMPDIR/data" 2>/dev/null || true
}

setup() {
    require_unprivileged
    command -v docker-registry >/dev/null || skip "needs docker-registry (Debian package docker-registry)"
    command -v skopeo >/dev/null || skip "needs skopeo (Debian package skopeo)"
    setup_scratch
}

teardown() { teardown_scratch_mapped; }

@test "pull an OCI image anonymously and run it; nothing on a non-terminal" {
    run --separate-stderr "$UNC" pull --tls-verify=false "$REG/multi:1"
    assert_success
    assert_output ""
    assert_equal "$stderr" ""
    run "$UNC" --image "$REG/multi:1" sh -c 'cat /etc/keep; ls /etc/gone; ls /data'
    assert_output $'kept\nls: /etc/gone: No such file or directory\nhard\nnew\nsoft'
    run "$UNC" images
    assert_line --regexp "^$REG/multi:1 +[0-9a-f]{12} +"
}

@test "a Docker schema 2 manifest (pushed from a docker save archive)" {
    run "$UNC" pull --tls-verify=false "$REG/schema2:1"
    assert_success
    run "$UNC" --image "$REG/schema2:1" cat /etc/keep
    assert_output kept
}

@test "an index: this host's platform, or --platform's" {
    run "$UNC" pull --tls-verify=false "$REG/index:1"
    assert_success
    run "$UNC" --image "$REG/index:1" cat /etc/keep
    assert_output kept
    local other=arm64
    [ "$(uname -m)" = aarch64 ] && other=amd64
    run "$UNC" pull --tls-verify=false --platform "linux/$other" "$REG/index:1"
    assert_success
    run "$UNC" --image "$REG/index:1" --stage=mount --read-only sh -c 'cat /etc/keep' 
    assert_failure               # the other platform's image has no shell
    run -125 --separate-stderr "$UNC" pull --tls-verify=false --platform linux/mips "$REG/index:1"
    assert_unc_error "no manifest for linux/mips" "linux/amd64"
}

@test "a manifest for another architecture: 125, one line" {
    [ "$(uname -m)" = x86_64 ] || skip "the image is arm64"
    run -125 --separate-stderr "$UNC" pull --tls-verify=false "$REG/arm:1"
    assert_unc_error "linux/arm64" "--platform"
}

@test "a blob whose digest does not match (changed in the registry's storage): 125, nothing kept" {
    "$UNC" pull --tls-verify=false "$REG/multi:1"
    # No image keeps its layers: the pull must fetch them again.
    "$UNC" rmi $("$UNC" images -q)
    # Damage the third layer's blob where the registry keeps it.
    local digest data
    digest=$(skopeo inspect --raw --tls-verify=false "docker://$REG/multi:1" \
             | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["layers"][2]["digest"][7:])')
    data=$BATS_FILE_TMPDIR/registry/docker/registry/v2/blobs/sha256/${digest:0:2}/$digest/data
    cp "$data" "$SCRATCH/saved"
    printf 'tampered' | dd of="$data" bs=1 seek=20 conv=notrunc 2>/dev/null
    run -125 --separate-stderr "$UNC" pull --tls-verify=false "$REG/multi:1"
    cp "$SCRATCH/saved" "$data"
    assert_unc_error "does not match its digest"
    run ls "$STORE/tmp"
    assert_output ""
    [ ! -e "$STORE/images/127.0.0.1:$PORT%2Fmulti:1.json" ]
}

@test "bearer tokens: credentials from auth.json; without them, one line" {
    local port
    port=$(cat "$BATS_FILE_TMPDIR/token.port")
    run -125 --separate-stderr env XDG_RUNTIME_DIR="$SCRATCH" \
        "$UNC" pull --tls-verify=false "127.0.0.1:$port/multi:1"
    assert_unc_error "token server" "401"
    mkdir -p "$SCRATCH/containers"
    printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$port" \
        "$(printf alice:secret | base64)" > "$SCRATCH/containers/auth.json"
    run env XDG_RUNTIME_DIR="$SCRATCH" "$UNC" pull --tls-verify=false "127.0.0.1:$port/multi:1"
    assert_success
    run "$UNC" --image "127.0.0.1:$port/multi:1" cat /etc/keep
    assert_output kept
}

@test "errors: no registry there, an unknown image, TLS without --tls-verify=false" {
    run -125 --separate-stderr "$UNC" pull --tls-verify=false "127.0.0.1:1/x:1"
    assert_unc_error "cannot reach the registry 127.0.0.1:1"
    run -125 --separate-stderr "$UNC" pull --tls-verify=false "$REG/nothing:1"
    assert_unc_error "404"
    run -125 --separate-stderr "$UNC" pull "$REG/multi:1"
    assert_unc_error "--tls-verify=false"
}

@test "a progress bar on a terminal, none with -q" {
    "$UNC" rmi "$REG/schema2:1" 2>/dev/null || true
    run "$PYTHON" "$BATS_TEST_DIRNAME/pty_driver.py" expect="layer 3/3" exited -- \
        "$UNC" pull --tls-verify=false "$REG/schema2:1"
    assert_success
    "$UNC" rmi "$REG/schema2:1"
    run "$PYTHON" "$BATS_TEST_DIRNAME/pty_driver.py" exited -- \
        "$UNC" pull -q --tls-verify=false "$REG/schema2:1"
    assert_success
    refute_output --partial "layer"
}

@test "done: pull Debian 12 from the registry and run it" {
    require_debian
    # The fixture's owners are shifted for --map-auto: tar it from inside.
    "$UNC" --map-auto --rootfs "$ROOTFS" -v "$DEBIAN:/debian:ro" -v "$SCRATCH:/out" \
        tar -C /debian -cf /out/layer.tar .
    "$PYTHON" - "$SCRATCH" <<'PY'
import hashlib, json, os, sys
out = sys.argv[1]
os.makedirs(f"{out}/oci/blobs/sha256")
def put(data=None, path=None):
    h = hashlib.sha256()
    if path:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        os.rename(path, f"{out}/oci/blobs/sha256/{h.hexdigest()}")
        return "sha256:" + h.hexdigest(), os.path.getsize(f"{out}/oci/blobs/sha256/{h.hexdigest()}")
    h.update(data)
    with open(f"{out}/oci/blobs/sha256/{h.hexdigest()}", "wb") as f:
        f.write(data)
    return "sha256:" + h.hexdigest(), len(data)
layer, size = put(path=f"{out}/layer.tar")
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                "Cmd": ["bash"]},
                     "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
cd, cs = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": size}]}).encode()
md, ms = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "12"}}]},
    open(f"{out}/oci/index.json", "w"))
open(f"{out}/oci/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
    skopeo copy -q --dest-tls-verify=false "oci:$SCRATCH/oci:12" "docker://$REG/debian:12"
    rm -rf "$SCRATCH/oci"
    run "$UNC" pull --map-auto --tls-verify=false "$REG/debian:12"
    assert_success
    run "$UNC" --image "$REG/debian:12" cat /etc/debian_version
    assert_success
    assert_output --regexp '^12\.[0-9]+$'
    # Owners kept through the subordinate range (pull --map-auto).
    run "$UNC" --image "$REG/debian:12" sh -c 'stat -c %G /var/mail /etc/shadow; id -un _apt'
    assert_output $'mail\nshadow\n_apt'
}
