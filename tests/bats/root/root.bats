#!/usr/bin/env bats
# What unc does when root runs it.

load ../helpers

@test "root maps 0 to 0" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    run -0 "$UNC" --stage=user_pid cat /proc/self/uid_map
    assert_output --regexp '^ +0 +0 +1$'
    run -0 "$UNC" --stage=user_pid sh -c 'echo $$'
    assert_output "1"
}
