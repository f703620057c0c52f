#!/usr/bin/env bats
# A ratio guard, not a benchmark (bench/ has the figures): the frozen binary
# must not fall far behind the same sources run by `python3 -S -I`, timed
# here in turns on the same machine. A slip in the build (a heavy module
# bundled and imported, the launcher unpacking at every start, a slower
# bootloader) shows as this ratio growing.

load helpers

setup() { setup_scratch; }
teardown() { teardown_scratch; }

@test "dist/unc starts a container at most 3x as slow as python3 -S -I unc.py" {
    # A copy we can write to: without byte-compiled files every python3 start
    # would compile the sources and the guard would grow loose.
    cp -r "$UNC_SRC" "$SCRATCH/src"
    "$PYTHON" -m compileall -q "$SCRATCH/src" >/dev/null
    # The stage the issue names is mount; a build without it is measured at uts.
    args=(--stage=uts)
    if "$UNC" stages | grep -q '^mount '; then
        args=(--stage=mount --rootfs "$ROOTFS")
    fi
    run "$PYTHON" "$BATS_TEST_DIRNAME/startratio.py" 3 15 \
        "$UNC" "${args[@]}" /bin/true -- \
        "$PYTHON" -S -I "$SCRATCH/src/unc.py" "${args[@]}" /bin/true
    echo "# ${args[*]}: $output" >&3
    [ "$status" -eq 0 ]
}
