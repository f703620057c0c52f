#!/usr/bin/env bats
# Stage user_pid: root and PID 1 in new user and PID namespaces.

load helpers

@test "the command is root inside" {
    run -0 "$UNC" --stage=user_pid whoami
    assert_output "root"
    run -0 "$UNC" --stage=user_pid id -u
    assert_output "0"
}

@test "the command is PID 1" {
    run -0 "$UNC" --stage=user_pid sh -c 'echo $$'
    assert_output "1"
}

@test "the caller's uid and gid are mapped to 0, size 1" {
    run -0 "$UNC" --stage=user_pid cat /proc/self/uid_map /proc/self/gid_map
    assert_line --index 0 --regexp "^ +0 +$(id -u) +1$"
    assert_line --index 1 --regexp "^ +0 +$(id -g) +1$"
}

@test "setgroups is denied inside" {
    run -0 "$UNC" --stage=user_pid cat /proc/self/setgroups
    assert_output "deny"
}

@test "host files keep their real owner: root inside cannot read /etc/shadow" {
    require_unprivileged
    run -1 "$UNC" --stage=user_pid cat /etc/shadow
}

@test "files the caller creates are owned by the caller on the host" {
    setup_scratch
    run -0 "$UNC" --stage=user_pid touch "$SCRATCH/f"
    assert_equal "$(stat -c %u "$SCRATCH/f")" "$(id -u)"
    teardown_scratch
}

@test "the user and PID namespaces differ from the host's" {
    host_user=$(readlink /proc/self/ns/user)
    host_pid=$(readlink /proc/self/ns/pid)
    run -0 "$UNC" --stage=user_pid sh -c 'readlink /proc/self/ns/user /proc/self/ns/pid_for_children'
    refute_line "$host_user"
    refute_line "$host_pid"
}

@test "--stage=user_pid keeps the host's hostname" {
    run -0 "$UNC" --stage=user_pid hostname
    assert_output "$(hostname)"
}

@test "--trace shows the unshare, the id maps and the fork" {
    run -0 --separate-stderr "$UNC" --stage=user_pid --trace true
    [[ "$stderr" == *"unshare(CLONE_NEWUSER|CLONE_NEWPID)"* ]]
    [[ "$stderr" == *"write /proc/"*"/uid_map \"0 $(id -u) 1\""* ]]
    [[ "$stderr" == *"write /proc/"*"/setgroups \"deny\""* ]]
    [[ "$stderr" == *"write /proc/"*"/gid_map \"0 $(id -g) 1\""* ]]
    [[ "$stderr" == *"fork -> pid 1 in the new pid namespace"* ]]
    [[ "$stderr" == *"execve /"*"/true"* ]]
}

@test "user namespaces disabled: the error names user.max_user_namespaces (125)" {
    # The limit is per user namespace: set it to 0 in a throwaway one.
    run -125 --separate-stderr unshare -Ur sh -c \
        'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" true' "$UNC"
    [ -z "$output" ]
    [[ "$stderr" == "unc: cannot create the container's namespaces: user namespaces are disabled: sysctl user.max_user_namespaces is 0;"* ]]
}
