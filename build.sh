#!/usr/bin/env bash
# Build and test unc.
#
#   ./build.sh          build the one binary dist/unc
#   ./build.sh test     install what the tests need, build, run the whole suite
#   ./build.sh bench    install what the bench needs, build, run bench/run
#
# Debian packages that are missing are installed with apt-get (as root, or
# through sudo). Python packages go into .venv/, pinned in requirements*.txt.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

PYTHON=${PYTHON:-/usr/bin/python3}
BUILD_DEBS=(python3 python3-venv binutils gcc libc6-dev)
TEST_DEBS=(bats bats-support bats-assert busybox-static uidmap procps psmisc
           util-linux iproute2 python3 slirp4netns passt curl strace
           libpython3.11-testsuite
           debootstrap debian-archive-keyring fakeroot file docker-registry skopeo zstd
           podman conmon)
# The Ansible tests: debootstrap for their SSH hosts' Debian roots, ssh for
# Ansible, a venv for ansible-core (tests/ansible-venv), groff for man.
ANSIBLE_DEBS=(debootstrap debian-archive-keyring openssh-client python3-venv groff-base man-db)
BENCH_DEBS=(hyperfine bubblewrap crun runc uidmap busybox-static util-linux
            python3-venv)

say() { printf 'build.sh: %s\n' "$*" >&2; }

need_debs() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            say "missing Debian packages: ${missing[*]}; install them as root"; exit 1; }
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

venv() {
    need_debs "${BUILD_DEBS[@]}"
    local stamp=.venv/.requirements
    if ! [ -x .venv/bin/python ] || ! cmp -s requirements-build.txt "$stamp" 2>/dev/null; then
        say "creating .venv with the pinned requirements"
        rm -rf .venv
        "$PYTHON" -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check -r requirements-build.txt
        cp requirements-build.txt "$stamp"
    fi
}

build() {
    venv
    say "building dist/unc"
    # docopt-ng's reading of unc's usage text, done once here (core/docopt_fast.py).
    .venv/bin/python -c 'from core import cli, docopt_fast
docopt_fast.write(cli.usage(), "usage_built.py")'
    # The default seccomp filter, compiled here so that a run only loads it.
    .venv/bin/python -c 'from security import seccomp
seccomp.write_built("security/filter_built.py")'
    # The same hash seed gives the same bytes for the same sources.
    # PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0: PyInstaller stores the entries of
    # its own archive (its start-up modules, unc.py) as zlib streams that are
    # not compressed, which inflate at every start as a copy: 0.4 ms less.
    # dist/unc is compressed as a whole by launcher/pack.py.
    PYTHONHASHSEED=0 PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0 \
        .venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
        --distpath .build/onedir --workpath .build/pyinstaller unc.spec
    # The C library and loader the build was linked with go in too, and the
    # bootloader gets a slot for the loader's path (launcher/bundle.py).
    .venv/bin/python launcher/bundle.py .build/onedir/unc
    # Static (glibc's libc.a): no dynamic loader, no shared library, so the
    # launcher runs where no glibc is, or an older one; it only does file
    # I/O (no NSS, no dlopen), which static glibc does as well as shared.
    gcc -static -O2 -Wall -Wextra -Wno-format-truncation -o .build/launcher launcher/launcher.c
    strip .build/launcher
    mkdir -p dist
    .venv/bin/python launcher/pack.py .build/launcher .build/onedir/unc dist/unc
    ls -l dist/unc >&2
}

case "${1:-build}" in
    build) build ;;
    test)
        need_debs "${TEST_DEBS[@]}" "${ANSIBLE_DEBS[@]}"
        build
        exec tests/run ;;
    bench)
        need_debs "${BENCH_DEBS[@]}"
        build
        exec bench/run ;;
    *) say "usage: ./build.sh [build|test|bench]"; exit 2 ;;
esac
