#!/usr/bin/env bats
# The command's user, environment and working directory (issue 12):
# -u/--user USER[:GROUP] resolved in the container's /etc/passwd and
# /etc/group (numbers need no entry), -e/--env NAME=VALUE or NAME,
# --env-file, --clearenv, -w/--workdir (created when missing), and HOME as
# it follows the user. Each bad value: status 125, one line "unc: ...".
#
# The busybox $ROOTFS has root and nobody only; tests that need users of
# their own add them to a copy of it they own (own_rootfs). Ids other than
# 0 exist inside only with --map-auto (the test user's subordinate ids).

load helpers
load identity_helpers

setup() { setup_scratch; }

# Files made inside as users other than root belong to subordinate ids.
teardown() { teardown_scratch_mapped; }

# ROOT: a copy of the busybox rootfs with alice (1000), bob (1001, a shell
# that does not exist) and the group staff (50) that both belong to.
own_rootfs() {
    ROOT=$SCRATCH/rootfs
    cp -a "$ROOTFS" "$ROOT"
    cat >> "$ROOT/etc/passwd" <<'EOF'
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001:Bob:/home/bob:/bin/nosuchshell
EOF
    cat >> "$ROOT/etc/group" <<'EOF'
alice:x:1000:
bob:x:1001:
staff:x:50:alice,bob
EOF
}

# with_home DIR COMMAND...: COMMAND with HOME=DIR, the launcher's cache
# staying where it is (it lives under HOME by default).
with_home() {
    local dir=$1; shift
    env HOME="$dir" XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}" "$@"
}

STANDARD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ------------------------------------------------------------------ -u

@test "-u root, -u 0, --user=root:root: the command runs as root" {
    run -0 "$UNC" --rootfs "$ROOTFS" -u root id -u
    assert_output 0
    run -0 "$UNC" --rootfs "$ROOTFS" -u 0 id -un
    assert_output root
    run -0 "$UNC" --rootfs "$ROOTFS" --user=root:root sh -c 'id -u; id -g'
    assert_output $'0\n0'
}

@test "-u nobody with --map-auto: 65534 is mapped, HOME is nobody's" {
    require_subids
    run -0 "$UNC" --map-auto --rootfs "$ROOTFS" -u nobody sh -c 'id -un; id -u; id -g; echo "$HOME"'
    assert_output $'nobody\n65534\n65534\n/'
}

@test "-u nobody without --map-auto: 65534 is not mapped (125, says --map-auto)" {
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -u nobody true
    assert_unc_error 65534 --map-auto
}

@test "-u NAME of the container's own /etc/passwd: its uid, gid, groups and home" {
    require_subids
    own_rootfs
    run -0 "$UNC" --map-auto --rootfs "$ROOT" -u alice sh -c 'id -un; id -u; id -g; id -G; echo "$HOME"'
    assert_output $'alice\n1000\n1000\n1000 50\n/home/alice'
    # GROUP given: that group only.
    run -0 "$UNC" --map-auto --rootfs "$ROOT" -u alice:staff sh -c 'id -u; id -g; id -G'
    assert_output $'1000\n50\n50'
    run -0 "$UNC" --map-auto --rootfs "$ROOT" --user=1000:50 sh -c 'id -un; id -g'
    assert_output $'alice\n50'
}

@test "-u NUMBER without an entry: that uid, gid 0, HOME /" {
    require_subids
    run -0 "$UNC" --map-auto --rootfs "$ROOTFS" -u 4242 sh -c 'id -u; id -g; echo "$HOME"'
    assert_output $'4242\n0\n/'
}

@test "-u with an unknown user or group, or a malformed value (125, one line)" {
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -u nosuchuser true
    assert_unc_error nosuchuser /etc/passwd
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -u root:nosuchgroup true
    assert_unc_error nosuchgroup /etc/group
    # The host's users are not the container's: unc-test is not in $ROOTFS.
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -u "$(id -un)" true
    assert_unc_error "$(id -un)" /etc/passwd
    for value in "" : root: :root a:b:c; do
        run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -u "$value" true
        assert_unc_error USER:GROUP
    done
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -u 4294967295 true
    assert_unc_error 4294967295
}

# ------------------------------------------------------------------ HOME

@test "HOME follows -u: the passwd home, even one that does not exist; -e HOME wins" {
    require_subids
    own_rootfs
    run -0 with_home /etc "$UNC" --map-auto --rootfs "$ROOT" -u alice sh -c 'echo "$HOME"'
    assert_output /home/alice
    run -0 with_home /etc "$UNC" --rootfs "$ROOT" -u root sh -c 'echo "$HOME"'
    assert_output /root
    run -0 "$UNC" --map-auto --rootfs "$ROOT" -u alice -e HOME=/tmp sh -c 'echo "$HOME"'
    assert_output /tmp
}

@test "HOME: the caller's where it exists inside; else root's, and --trace says so" {
    # /etc exists in the rootfs: kept.
    run -0 with_home /etc "$UNC" --rootfs "$ROOTFS" sh -c 'echo "$HOME"'
    assert_output /etc
    run -0 --separate-stderr with_home /no/such/home "$UNC" --rootfs "$ROOTFS" --trace \
        sh -c 'echo "$HOME"'
    assert_output /root
    [[ "$stderr" == *"HOME=/no/such/home does not exist"*"HOME=/root"* ]] \
        || fail "no trace line about HOME in: $stderr"
}

# ------------------------------------------------------------------ -e

@test "-e NAME=VALUE, -e NAME (the caller's value), --env=...; values taken as written" {
    run -0 env B=from-caller "$UNC" -e A=1 -e B --env=C='x y=z' -e 'D=$A' \
        sh -c 'echo "$A|$B|$C|$D"'
    assert_output '1|from-caller|x y=z|$A'
    # The last setting of a name wins.
    run -0 "$UNC" -e A=1 -e A=2 sh -c 'echo "$A"'
    assert_output 2
}

@test "-e NAME when the caller has no NAME: NAME is unset, even one set before" {
    run -0 env -u B "$UNC" -e B sh -c 'echo "${B-unset}"'
    assert_output unset
    run -0 env -u B "$UNC" -e B=1 -e B sh -c 'echo "${B-unset}"'
    assert_output unset
}

@test "-e with an empty name, an empty value or white space in the name (125, one line)" {
    # A NUL cannot be passed in argv; the empty name and the empty -e can.
    for value in =x = ""; do
        run -125 --separate-stderr "$UNC" -e "$value" true
        assert_unc_error NAME=VALUE
    done
    run -125 --separate-stderr "$UNC" --env='A B=1' true
    assert_unc_error "white space"
}

@test "--env-file: comments, blank lines, indentation, NAME alone, CRLF; -e after it wins" {
    cat > "$SCRATCH/env" <<'EOF'
# a comment
FOO=bar

   INDENTED=yes
QUOTED="kept as written"
EMPTY=
WITH_EQ=a=b
FROM_CALLER
NOT_IN_CALLER
EOF
    printf 'CRLF=dos\r\n' >> "$SCRATCH/env"
    printf 'FOO=second-file\nSECOND=2\n' > "$SCRATCH/env2"
    run -0 env -u NOT_IN_CALLER FROM_CALLER=caller "$UNC" \
        --env-file="$SCRATCH/env" --env-file="$SCRATCH/env2" -e SECOND=from-e \
        sh -c 'printf "%s|" "$FOO" "$INDENTED" "$QUOTED" "${EMPTY-unset}" "$WITH_EQ" \
                   "$FROM_CALLER" "${NOT_IN_CALLER-unset}" "$CRLF" "$SECOND"'
    assert_output 'second-file|yes|"kept as written"||a=b|caller|unset|dos|from-e|'
}

@test "--env-file that cannot be read, or with a bad line (125, names the file)" {
    require_unprivileged
    printf 'A=1\n' > "$SCRATCH/unreadable"
    chmod 000 "$SCRATCH/unreadable"
    run -125 --separate-stderr "$UNC" --env-file="$SCRATCH/unreadable" true
    assert_unc_error "$SCRATCH/unreadable" "cannot read"
    run -125 --separate-stderr "$UNC" --env-file="$SCRATCH/missing" true
    assert_unc_error "$SCRATCH/missing" "cannot read"
    printf 'A=1\n=x\n' > "$SCRATCH/bad"
    run -125 --separate-stderr "$UNC" --env-file="$SCRATCH/bad" true
    assert_unc_error "$SCRATCH/bad:2"
}

@test "--clearenv: exactly PATH, HOME, TERM, HOSTNAME and container=unc, plus -e" {
    run -0 env TERM=xterm-test SECRET=1 "$UNC" --rootfs "$ROOTFS" --clearenv -e A=1 env
    assert_equal "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)" "$(LC_ALL=C sort <<EOF
A=1
HOME=/root
HOSTNAME=unc
PATH=$STANDARD_PATH
TERM=xterm-test
container=unc
EOF
)"
    # No TERM for a caller without one.
    run -0 env -u TERM "$UNC" --rootfs "$ROOTFS" --clearenv env
    assert_equal "$(printf '%s\n' "${lines[@]}" | cut -d= -f1 | LC_ALL=C sort | tr '\n' ' ')" \
        "HOME HOSTNAME PATH container "
}

@test "--clearenv -u: HOME is that user's" {
    require_subids
    run -0 "$UNC" --map-auto --rootfs "$ROOTFS" --clearenv -u nobody sh -c 'echo "$HOME"'
    assert_output /
}

# ------------------------------------------------------------------ -w

@test "-w DIR: created when missing, and the command starts there" {
    run -0 "$UNC" -w /tmp/new/dir pwd
    assert_output /tmp/new/dir
    run -0 "$UNC" --workdir=/etc pwd
    assert_output /etc
    own_rootfs
    run -0 "$UNC" --rootfs "$ROOT" -w /new/dir sh -c 'pwd; touch here'
    assert_output /new/dir
    [ -f "$ROOT/new/dir/here" ]
    # Made by root inside: the caller's on the host.
    assert_equal "$(stat -c %u "$ROOT/new/dir")" "$(id -u)"
}

@test "-w DIR with -u: the directory made is that user's, who can write in it" {
    require_subids
    own_rootfs
    run -0 "$UNC" --map-auto --rootfs "$ROOT" -u alice -w /work/alice \
        sh -c 'pwd; touch f; stat -c %U:%G /work/alice/f'
    assert_output $'/work/alice\nalice:alice'
    assert_equal "$(stat -c %u:%g "$ROOT/work/alice")" "$(host_uid 1000):$(host_gid 1000)"
}

@test "-w: a relative or empty path, a file, a directory unc cannot make (125, one line)" {
    run -125 --separate-stderr "$UNC" -w relative/dir pwd
    assert_unc_error relative/dir absolute
    run -125 --separate-stderr "$UNC" -w "" pwd
    assert_unc_error absolute
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -w /etc/passwd pwd
    assert_unc_error /etc/passwd "not a directory"
    # Without --rootfs the host's / is read-only inside.
    run -125 --separate-stderr "$UNC" -w /no/such/dir pwd
    assert_unc_error /no/such/dir read-only
}
