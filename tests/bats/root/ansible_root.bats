#!/usr/bin/env bats
# The role unc.containers.install as root on this machine, where it can do
# all it does on a real host: install unc, create /dev/net/tun or make it
# 0666 as udev would, give users subordinate ids. It runs in a mount
# namespace of the test's own, with its own /dev/net and a copy of /etc:
# the host's stay as they are.

load ../helpers
load ../ansible_helpers

setup_file() {
    [ -n "${ANSIBLE_VENV:-}" ] && [ -n "${UNC_ANSIBLE:-}" ] || return 0
    mkdir -p "$BATS_FILE_TMPDIR/coll"
    install_collection "$BATS_FILE_TMPDIR/coll"
}

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    require_ansible
    local_setup
}

teardown() {
    teardown_scratch
}

# expect FILE PYTHON...: each line is true of the results in FILE, with
# stats (localhost's) and task(NAME) (its result; a role's task is named
# "ROLE : NAME").
expect() {
    "$ANSIBLE_VENV/bin/python" - "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
stats = doc["stats"]["localhost"]
def task(name):
    found = [t["hosts"]["localhost"] for p in doc["plays"] for t in p["tasks"]
             if t["task"]["name"].split(" : ")[-1] == name and "localhost" in t["hosts"]]
    assert found, name
    return found[-1]
for line in sys.argv[2:]:
    assert eval(line), (line, stats)
PY
}

@test "ansible as root: the role installs unc, sets /dev/net/tun as udev would, gives subordinate ids, once" {
    cat >"$SCRATCH/play.yml" <<END
- hosts: localhost
  gather_facts: false
  roles:
    - role: unc.containers.install
      vars:
        unc_src: "$UNC"
        unc_dest: "$SCRATCH/bin/unc"
        unc_subids: [{user: nobody}, {user: daemon, start: 50000, count: 1000}]
END
    mkdir "$SCRATCH/bin"
    run -0 unshare -m --propagation private sh -c '
        set -e
        dir=$1 playbook=$2
        mount -t tmpfs tmpfs /dev/net
        mknod -m 600 /dev/net/tun c 10 200
        cp -a /etc "$dir/etc"
        mount --bind "$dir/etc" /etc
        # Where every subordinate range of the host ends.
        awk -F: "{ if (\$2 + \$3 > m) m = \$2 + \$3 } END { print m + 0 }" \
            /etc/subuid /etc/subgid >"$dir/top"
        play() { "$ANSIBLE_VENV/bin/ansible-playbook" -c local -i localhost, "$playbook" </dev/null; }
        play >"$dir/first.json"
        stat -c "%a %F %t:%T" /dev/net/tun
        play >"$dir/second.json"
        rm /dev/net/tun
        play >"$dir/third.json"
        stat -c "%a %F %t:%T" /dev/net/tun
        grep -h -E "^(nobody|daemon):" /etc/subuid /etc/subgid
    ' sh "$SCRATCH" "$SCRATCH/play.yml"
    # A character device 10,200 of mode 0666, set or created.
    assert_line --index 0 "666 character special file a:c8"
    assert_line --index 1 "666 character special file a:c8"
    # nobody gets the first free block of 65536 from 100000; daemon what it asked.
    local top start
    top=$(cat "$SCRATCH/top")
    [ "$top" -gt 100000 ] || top=100000
    start=$((100000 + (top - 100000 + 65535) / 65536 * 65536))
    assert_equal "${lines[*]:2}" "nobody:$start:65536 daemon:50000:1000 nobody:$start:65536 daemon:50000:1000"
    expect "$SCRATCH/first.json" 'stats["changed"] == 3 and stats["failures"] == 0' \
        'task("Install unc (copied only when its checksum differs)")["changed"]' \
        'task("/dev/net/tun mode 0666, as udev makes it")["changed"]' \
        'task("Subordinate ids for unc --map-auto")["changed"]'
    expect "$SCRATCH/second.json" 'stats["changed"] == 0 and stats["failures"] == 0'
    expect "$SCRATCH/third.json" 'stats["changed"] == 1 and stats["failures"] == 0' \
        'task("Create /dev/net/tun as udev'"'"'s static node would")["changed"]'
    cmp "$UNC" "$SCRATCH/bin/unc"
    [ "$(stat -c %a "$SCRATCH/bin/unc")" = 755 ]
    # The host's own /etc and /dev/net/tun are as they were.
    ! grep -q "^nobody:" /etc/subuid
    [ "$(stat -c %a /dev/net/tun)" = 666 ]
}
