#!/usr/bin/env bats
# Stage uts: the container's own hostname.

load helpers

@test "the hostname is unc by default" {
    run -0 "$UNC" --stage=uts hostname
    assert_output "unc"
}

@test "--hostname sets it" {
    run -0 "$UNC" --stage=uts --hostname=box-1.example hostname
    assert_output "box-1.example"
}

@test "changing the hostname inside does not touch the host" {
    before=$(hostname)
    run -0 "$UNC" --stage=uts sh -c 'hostname other && hostname'
    assert_output "other"
    assert_equal "$(hostname)" "$before"
}

@test "invalid hostnames are refused before anything starts (125)" {
    for bad in "" "-x" "x-" "a_b" "a b" "$(printf 'a%.0s' {1..65})" "a..b" $'a\nb'; do
        run -125 --separate-stderr "$UNC" --stage=uts --hostname="$bad" true
        [[ "$stderr" == "unc: invalid --hostname "* ]]
    done
}

@test "a 64-byte hostname is accepted" {
    name=$(printf 'a%.0s' {1..64})
    run -0 "$UNC" --stage=uts --hostname="$name" hostname
    assert_output "$name"
}

@test "--trace shows sethostname" {
    run -0 --separate-stderr "$UNC" --stage=uts --trace true
    [[ "$stderr" == *"unshare(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWUTS)"* ]]
    [[ "$stderr" == *'sethostname("unc")'* ]]
}
