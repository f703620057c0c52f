#!/usr/bin/env bats
# The Ansible collection unc.containers (ansible/) on this machine: it builds
# with ansible-galaxy, ansible-doc documents every module and the role, and
# its modules run the real unc as the test user through a local connection.
# Over SSH, against three hosts: ansible_ssh.bats.

load helpers
load ansible_helpers

setup_file() {
    [ -n "${ANSIBLE_VENV:-}" ] && [ -n "${UNC_ANSIBLE:-}" ] || return 0
    mkdir -p "$BATS_FILE_TMPDIR/coll"
    install_collection "$BATS_FILE_TMPDIR/coll"
}

setup() {
    require_ansible
    local_setup
}

teardown() {
    teardown_scratch
}

# play PLAYBOOK [ARG...]: ansible-playbook on this machine, as this user,
# its results as one JSON object (the json callback) on stdout.
play() {
    "$ANSIBLE_VENV/bin/ansible-playbook" -c local -i localhost, -e "unc=$UNC" "$@" </dev/null
}

# result NAME: the result of the task named NAME in the JSON in $output, as JSON.
result() {
    printf '%s' "$output" | "$ANSIBLE_VENV/bin/python" -c '
import json, sys
doc = json.load(sys.stdin)
for play in doc["plays"]:
    for task in play["tasks"]:
        if task["task"]["name"] == sys.argv[1]:
            print(json.dumps(task["hosts"]["localhost"]))' "$1"
}

# expect RESULT-JSON PYTHON-EXPRESSION...: each expression is true of r, the result.
expect() {
    local r=$1; shift
    "$ANSIBLE_VENV/bin/python" -c '
import json, sys
r = json.loads(sys.argv[1])
for e in sys.argv[2:]:
    assert eval(e), (e, r)' "$r" "$@"
}

@test "ansible: the collection builds, and ansible-doc documents every module and the role" {
    ls "$BATS_FILE_TMPDIR"/coll/unc-containers-0.1.0.tar.gz
    run -0 "$ANSIBLE_VENV/bin/ansible-doc" -l unc.containers
    assert_line --regexp '^unc.containers.unc_check +Gather what unc can do'
    assert_line --regexp '^unc.containers.unc_run +Run a command in'
    assert_line --regexp '^unc.containers.unc_subids +Give a user subordinate'
    for module in unc_check unc_run unc_subids; do
        run -0 "$ANSIBLE_VENV/bin/ansible-doc" "unc.containers.$module"
        assert_output --partial "OPTIONS"
        assert_output --partial "EXAMPLES"
        assert_output --partial "RETURN VALUES"
    done
    run -0 "$ANSIBLE_VENV/bin/ansible-doc" -t role unc.containers.install
    assert_output --partial "unc_subids"
    # unc_run documents exactly its arguments: unc's options and its own.
    run -0 "$ANSIBLE_VENV/bin/ansible-doc" --json unc.containers.unc_run
    printf '%s' "$output" >"$SCRATCH/doc.json"
    "$ANSIBLE_VENV/bin/python" -c '
import json, sys
sys.path.insert(0, sys.argv[2] + "/plugins/module_utils")
import unc
doc = json.load(open(sys.argv[1]))["unc.containers.unc_run"]["doc"]["options"]
own = {"argv", "cmd", "stdin", "creates", "removes", "unc"}
assert set(doc) == set(unc.OPTIONS) | own, set(doc) ^ (set(unc.OPTIONS) | own)
for name, spec in unc.ARGUMENT_SPEC.items():
    assert doc[name]["type"] == spec["type"], name
    assert doc[name].get("choices") == spec.get("choices"), name' "$SCRATCH/doc.json" "$UNC_ANSIBLE"
}

@test "ansible: unc_check returns unc check --json as the fact unc_check" {
    cat >"$SCRATCH/check.yml" <<'EOF'
- hosts: localhost
  gather_facts: false
  tasks:
    - name: check
      unc.containers.unc_check: {unc: "{{ unc }}", must_work: true}
    - name: check in check mode
      unc.containers.unc_check: {unc: "{{ unc }}"}
      check_mode: true
EOF
    run -0 --separate-stderr play "$SCRATCH/check.yml"
    expect "$(result check)" 'r["changed"] is False and r["ok"] is True and r["rc"] == 0' \
        'r["ansible_facts"]["unc_check"]["schema"] == 1' \
        'r["ansible_facts"]["unc_check"]["userns"]["allowed"] is True' \
        'r["summary"][0].startswith("user_pid  ok")' \
        'r["summary"][4] == "harden    ok"' \
        'r["summary"][5].startswith("kernel    Linux ")'
    expect "$(result 'check in check mode')" 'r["ok"] is True and r["changed"] is False'
}

@test "ansible: unc_check where user namespaces are forbidden: facts, or unc's message with must_work" {
    cat >"$SCRATCH/check.yml" <<'EOF'
- hosts: localhost
  gather_facts: false
  tasks:
    - name: facts
      unc.containers.unc_check: {unc: "{{ unc }}"}
    - name: must work
      unc.containers.unc_check: {unc: "{{ unc }}", must_work: true}
EOF
    # user.max_user_namespaces=0 in a user namespace of the test's own.
    run -2 --separate-stderr unshare -U --map-root-user sh -c \
        'echo 0 >/proc/sys/user/max_user_namespaces && exec "$0" "$@" </dev/null' \
        "$ANSIBLE_VENV/bin/ansible-playbook" -c local -i localhost, -e "unc=$UNC" "$SCRATCH/check.yml"
    expect "$(result facts)" 'r["ok"] is False and r["rc"] == 1 and not r.get("failed")' \
        'r["ansible_facts"]["unc_check"]["userns"]["setting"] == "user.max_user_namespaces"'
    expect "$(result 'must work')" 'r["failed"] is True' \
        'r["msg"].startswith("unc: user_pid: cannot create the container'"'"'s namespaces: user namespaces are disabled: sysctl user.max_user_namespaces is 0")'
}

@test "ansible: unc_run runs a container: rc, stdout, stderr, unc's line, creates, check mode" {
    cat >"$SCRATCH/run.yml" <<EOF
- hosts: localhost
  gather_facts: false
  tasks:
    - name: run
      unc.containers.unc_run:
        unc: "{{ unc }}"
        argv: [sh, -c, 'echo "\$(hostname) \$(id -u)"; wc -l </proc/self/uid_map; echo to-stderr >&2; cat >$SCRATCH/out/file']
        stdin: from stdin
        hostname: box
        map_auto: true
        env: {GREETING: hello}
        volumes: ["$SCRATCH/out:$SCRATCH/out"]
        tmpfs: [/mnt]
    - name: environment
      unc.containers.unc_run: {unc: "{{ unc }}", cmd: "sh -c 'echo \$GREETING'", env: {GREETING: hi there}}
    - name: not found
      unc.containers.unc_run: {unc: "{{ unc }}", argv: [no-such-command]}
      ignore_errors: true
    - name: exits 3
      unc.containers.unc_run: {unc: "{{ unc }}", cmd: "sh -c 'exit 3'"}
      ignore_errors: true
    - name: refused option
      unc.containers.unc_run: {unc: "{{ unc }}", argv: ["true"], hostname: -bad}
      ignore_errors: true
    - name: creates
      unc.containers.unc_run: {unc: "{{ unc }}", argv: ["false"], creates: $SCRATCH/out/file}
    - name: removes
      unc.containers.unc_run: {unc: "{{ unc }}", argv: ["false"], removes: $SCRATCH/none}
    - name: check mode
      unc.containers.unc_run: {unc: "{{ unc }}", argv: [sh, -c, "touch $SCRATCH/out/check"], volumes: ["$SCRATCH/out:$SCRATCH/out"]}
      check_mode: true
EOF
    mkdir "$SCRATCH/out"
    run -0 --separate-stderr play "$SCRATCH/run.yml"
    expect "$(result run)" 'r["changed"] is True and r["rc"] == 0 and r["unc_error"] is None' \
        'r["stdout_lines"] == ["box 0", "2"]' 'r["stderr"] == "to-stderr\n"' \
        'r["cmd"][1:7] == ["--env=GREETING=hello", "--map-auto", "--hostname=box", "--volume='"$SCRATCH/out:$SCRATCH/out"'", "--tmpfs=/mnt", "--"]'
    assert_equal "$(cat "$SCRATCH/out/file")" "from stdin"
    expect "$(result environment)" 'r["stdout"] == "hi there\n"'
    expect "$(result 'not found')" 'r["failed"] is True and r["rc"] == 127 and not r["changed"]' \
        'r["msg"].startswith("unc: no-such-command: command not found in the container")' \
        'r["msg"] == r["unc_error"]'
    expect "$(result 'exits 3')" 'r["failed"] is True and r["rc"] == 3 and r["changed"]' \
        'r["msg"] == "the command exited with status 3" and r["unc_error"] is None'
    expect "$(result 'refused option')" 'r["failed"] is True and r["rc"] == 125' \
        'r["msg"].startswith("unc: invalid --hostname '"'"'-bad'"'"'")'
    expect "$(result creates)" 'r["changed"] is False and "exists" in r["msg"]'
    expect "$(result removes)" 'r["changed"] is False'
    expect "$(result 'check mode')" 'r["changed"] is True and "rc" not in r'
    [ ! -e "$SCRATCH/out/check" ]
}
