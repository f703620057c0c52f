#!/usr/bin/env bats
# The sample playbook of the Ansible collection (ansible/examples/site.yml)
# over real SSH, against three hosts on this machine that are unc
# containers themselves: each a Debian root of its own with sshd, python3,
# sudo, newuidmap, pasta and slirp4netns (made by tests/run, tests/mkdebian
# --include), run by the test user with --map-auto, sshd published on
# 127.0.0.1 only (-p 127.0.0.1:PORT:22). Ansible logs in as alice and
# becomes root through sudo for the role; unc runs as alice, nested in the
# host's container. On host3, user namespaces are forbidden to alice:
# user.max_user_namespaces is 0 in that host's own user namespace, which
# forbids new ones there only. The tests run in order and share the hosts.

load helpers
load ansible_helpers

HOSTS="host1 host2 host3"

# The hosts' setup, as their root (the test user outside): alice with the
# test's key and sudo, sshd without PAM (pam_loginuid cannot work in a
# container). Debian's useradd gives alice a subordinate range of 65536 ids
# from 100000, beyond the 65536 ids the host's own map has: it goes, and the
# role gives her one inside (unc_subid_start in the inventory).
CUSTOMIZE='set -e
id alice >/dev/null 2>&1 || useradd -m -s /bin/bash -p "*" alice
sed -i "/^alice:/d" /etc/subuid /etc/subgid
install -d -m 700 -o alice -g alice /home/alice/.ssh
install -m 600 -o alice -g alice /keys/key.pub /home/alice/.ssh/authorized_keys
echo "alice ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/alice
chmod 440 /etc/sudoers.d/alice
grep -q " host1 " /etc/hosts || echo "127.0.1.1 host1 host2 host3 " >>/etc/hosts
printf "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n" \
    >/etc/ssh/sshd_config.d/unc-test.conf'

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# on HOST COMMAND: COMMAND run by alice on HOST over SSH.
on() {
    local host=$1; shift
    ssh -i "$BATS_FILE_TMPDIR/key" -p "$(cat "$BATS_FILE_TMPDIR/$host.port")" \
        -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=5 alice@127.0.0.1 "$@" </dev/null
}

setup_file() {
    [ -n "${ANSIBLE_VENV:-}" ] && [ -n "${UNC_ANSIBLE:-}" ] && [ -n "${UNC_SSH_ROOTS:-}" ] \
        || return 0
    local dir=$BATS_FILE_TMPDIR host port prelude i
    SECONDS=0
    mkdir -p "$dir/coll" "$dir/keys"
    # SSH connections shared between a run's tasks, through sockets in a
    # short path (sun_path has 108 bytes); teardown_file ends their masters.
    mktemp -d /tmp/unc-ssh-cp.XXXXXX >"$dir/control"
    install_collection "$dir/coll"
    ssh-keygen -q -t ed25519 -N "" -f "$dir/key"
    cp "$dir/key.pub" "$dir/keys/key.pub"
    for host in $HOSTS; do
        "$UNC" --map-auto --rootfs "$UNC_SSH_ROOTS/$host" -v "$dir/keys:/keys:ro" \
            sh -c "$CUSTOMIZE" </dev/null
        port=$(free_port)
        echo "$port" >"$dir/$host.port"
        prelude=
        [ "$host" = host3 ] && prelude='echo 0 >/proc/sys/user/max_user_namespaces && '
        # /dev/net/tun bound in: the hosts' unc can run pasta and slirp4netns.
        # --privileged: the playbook runs unc in them, which the defaults refuse.
        "$UNC" --privileged --map-auto --init --rootfs "$UNC_SSH_ROOTS/$host" --hostname "$host" \
            -p "127.0.0.1:$port:22" -v /dev/net/tun:/dev/net/tun \
            sh -c "${prelude}mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e" \
            </dev/null >"$dir/$host.log" 2>&1 3>&- &
        echo $! >"$dir/$host.pid"
    done
    for host in $HOSTS; do
        for ((i = 0; i < 300; i++)); do
            on "$host" true 2>/dev/null && break
            sleep 0.1
        done
        on "$host" true || { cat "$dir/$host.log" >&2; stop_hosts; return 1; }
    done
    cat >"$dir/inventory.ini" <<EOF
[unc_hosts]
host1 ansible_port=$(cat "$dir/host1.port")
host2 ansible_port=$(cat "$dir/host2.port")
host3 ansible_port=$(cat "$dir/host3.port")

[unc_hosts:vars]
ansible_host=127.0.0.1
ansible_user=alice
ansible_ssh_private_key_file=$dir/key
ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'
unc_src=$UNC
unc_subid_start=10000
unc_subid_count=50000
EOF
    echo "# the three SSH hosts are up in $SECONDS s" >&3
}

teardown_file() {
    stop_hosts
}

# stop_hosts: end the hosts and the SSH connections to them.
stop_hosts() {
    local host pid socket control i
    control=$(cat "$BATS_FILE_TMPDIR/control" 2>/dev/null) || control=
    if [ -n "$control" ]; then
        for socket in "$control"/*; do
            [ -S "$socket" ] && ssh -o ControlPath="$socket" -O exit unc-host 2>/dev/null
        done
        rm -rf "$control"
    fi
    for host in $HOSTS; do
        pid=$(cat "$BATS_FILE_TMPDIR/$host.pid" 2>/dev/null) || continue
        # unc passes TERM to the container's init, which ends sshd; the
        # kernel ends the rest of the container with it.
        kill -TERM "$pid" 2>/dev/null
    done
    for host in $HOSTS; do
        pid=$(cat "$BATS_FILE_TMPDIR/$host.pid" 2>/dev/null) || continue
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
}

setup() {
    require_ssh_hosts
    ansible_env "$BATS_FILE_TMPDIR/coll"
    export ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s"
    ANSIBLE_SSH_CONTROL_PATH_DIR=$(cat "$BATS_FILE_TMPDIR/control")
    export ANSIBLE_SSH_CONTROL_PATH_DIR
}

# site [ARG...]: the sample playbook against the three hosts; the results
# (one JSON object) in $BATS_FILE_TMPDIR/last.json, its status in $status.
site() {
    local start=$SECONDS
    status=0
    "$ANSIBLE_VENV/bin/ansible-playbook" -i "$BATS_FILE_TMPDIR/inventory.ini" \
        "$UNC_ANSIBLE/examples/site.yml" "$@" </dev/null \
        >"$BATS_FILE_TMPDIR/last.json" 2>"$BATS_FILE_TMPDIR/last.err" || status=$?
    echo "# ansible-playbook $* took $((SECONDS - start)) s, status $status; slowest tasks:" \
        "$("$ANSIBLE_VENV/bin/python" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
tasks = sorted((t["task"].get("seconds", 0), t["task"]["name"].split(" : ")[-1])
               for p in doc["plays"] for t in p["tasks"])[::-1][:3]
print(", ".join("%s %.1f s" % (n, s) for s, n in tasks))' "$BATS_FILE_TMPDIR/last.json" 2>&1)" >&3
}

# expect PYTHON...: each line of Python is true of the last run, with
# stats[HOST] (ok, changed, failures...) and task(NAME, HOST) (a result;
# a role's tasks are named "ROLE : NAME").
expect() {
    "$ANSIBLE_VENV/bin/python" - "$BATS_FILE_TMPDIR/last.json" "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
stats = doc["stats"]
def task(name, host):
    found = [t["hosts"][host] for p in doc["plays"] for t in p["tasks"]
             if t["task"]["name"].split(" : ")[-1] == name and host in t["hosts"]]
    assert found, (name, host)
    return found[-1]
for line in sys.argv[2:]:
    assert eval(line), (line, stats)
PY
}

@test "ssh: three hosts answer over SSH on 127.0.0.1, each a unc container of its own" {
    for host in $HOSTS; do
        run -0 on "$host" 'hostname; id -un; sudo -n id -u; wc -l </proc/self/uid_map'
        assert_line --index 0 "$host"
        assert_line --index 1 alice
        assert_line --index 2 0
        # --map-auto: root inside is the test user, the others its subordinate ids.
        assert_line --index 3 2
        # Published on the host's loopback only.
        run -0 sh -c 'ss -Hltn "sport = :$0" | awk "{print \$4}" | sort -u' \
            "$(cat "$BATS_FILE_TMPDIR/$host.port")"
        assert_output "127.0.0.1:$(cat "$BATS_FILE_TMPDIR/$host.port")"
    done
    run -0 on host3 cat /proc/sys/user/max_user_namespaces
    assert_output 0
}

@test "ssh: site.yml in check mode on fresh hosts says what it would do and does nothing" {
    site --check
    [ "$status" -eq 0 ] || { cat "$BATS_FILE_TMPDIR/last.err" "$BATS_FILE_TMPDIR/last.json"; false; }
    expect 'all(stats[h]["failures"] == 0 and stats[h]["unreachable"] == 0 for h in stats)' \
        'all(stats[h]["changed"] >= 3 for h in ("host1", "host2", "host3"))' \
        'task("Install unc (copied only when its checksum differs)", "host1")["changed"]' \
        'task("What unc can do here", "host2")["skipped"]' \
        'task("A container writes a file, once", "host1")["changed"]'
    for host in $HOSTS; do
        run -0 on "$host" 'test ! -e /usr/local/bin/unc && ! grep alice /etc/subuid && test ! -e unc-out && echo none'
        assert_output none
    done
}

@test "ssh: site.yml installs unc, gathers facts and runs a container on each host; host3 fails with unc's message" {
    site
    # 2: a host failed.
    [ "$status" -eq 2 ] || { cat "$BATS_FILE_TMPDIR/last.err" "$BATS_FILE_TMPDIR/last.json"; false; }
    expect 'stats["host1"]["failures"] == stats["host2"]["failures"] == 0' \
        'stats["host3"]["failures"] == 1' \
        'all(stats[h]["changed"] >= 4 for h in ("host1", "host2"))' \
        'task("Subordinate ids for unc --map-auto", "host1")["results"][0]["uid_ranges"] == [{"start": 10000, "count": 50000}]' \
        'task("What unc can do here", "host1")["ansible_facts"]["unc_check"]["ok"] is True' \
        'task("What unc can do here", "host2")["ansible_facts"]["unc_check"]["userns"]["allowed"] is True' \
        'task("A container writes a file, once", "host1")["rc"] == 0' \
        'task("What unc can do here", "host3")["ansible_facts"]["unc_check"]["ok"] is False' \
        'task("What unc can do here", "host3")["ansible_facts"]["unc_check"]["userns"]["setting"] == "user.max_user_namespaces"' \
        'task("A container writes a file, once", "host3")["failed"] is True' \
        'task("A container writes a file, once", "host3")["rc"] == 125' \
        'task("A container writes a file, once", "host3")["msg"] == "unc: cannot create the container'"'"'s namespaces: user namespaces are disabled: sysctl user.max_user_namespaces is 0; as root, set it: sysctl -w user.max_user_namespaces=15000"'
    local sum
    sum=$(sha256sum <"$UNC" | cut -d" " -f1)
    for host in $HOSTS; do
        run -0 on "$host" 'sha256sum </usr/local/bin/unc; stat -c %a /usr/local/bin/unc; grep ^alice: /etc/subuid'
        assert_line --index 0 "$sum  -"
        assert_line --index 1 755
        assert_line --index 2 "alice:10000:50000"
    done
    # The container's file: its hostname, root inside, and two map lines (--map-auto).
    run -0 on host1 cat unc-out/hello
    assert_output "unc-host1 0 2"
    run -0 on host2 cat unc-out/hello
    assert_output "unc-host2 0 2"
    run -0 on host3 test ! -e unc-out/hello
}

@test "ssh: a second run of site.yml changes nothing" {
    site
    [ "$status" -eq 2 ] || { cat "$BATS_FILE_TMPDIR/last.err" "$BATS_FILE_TMPDIR/last.json"; false; }
    expect 'all(stats[h]["changed"] == 0 for h in stats)' \
        'stats["host1"]["failures"] == stats["host2"]["failures"] == 0' \
        'stats["host3"]["failures"] == 1' \
        'task("A container writes a file, once", "host1")["changed"] is False'
}

@test "ssh: check mode after the install: nothing would change but host3's container" {
    site --check
    [ "$status" -eq 0 ] || { cat "$BATS_FILE_TMPDIR/last.err" "$BATS_FILE_TMPDIR/last.json"; false; }
    expect 'stats["host1"]["changed"] == stats["host2"]["changed"] == 0' \
        'stats["host3"]["changed"] == 1' \
        'all(stats[h]["failures"] == 0 for h in stats)' \
        'task("What unc can do here", "host1")["ansible_facts"]["unc_check"]["ok"] is True'
}
