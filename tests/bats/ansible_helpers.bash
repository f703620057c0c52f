# Shared by ansible.bats and ansible_ssh.bats: the pinned Ansible that
# tests/run provides (ANSIBLE_VENV, tests/ansible-venv), the collection's
# sources (UNC_ANSIBLE), building and installing the collection.

# This file's directory, which holds the tests' callback plugin.
ANSIBLE_HELPERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# require_ansible: skip (fail under CI) without the Ansible tests/run makes.
require_ansible() {
    local why=${UNC_ANSIBLE_MISSING:-}
    [ -z "$why" ] && [ -z "${ANSIBLE_VENV:-}" ] && why="ANSIBLE_VENV is not set (tests/run sets it)"
    [ -z "$why" ] && [ -z "${UNC_ANSIBLE:-}" ] && why="UNC_ANSIBLE is not set (tests/run sets it)"
    [ -z "$why" ] && return 0
    [ -n "${CI:-}" ] && { echo "# $why" >&2; return 1; }
    skip "$why"
}

# require_ssh_hosts: require_ansible, and the roots of the SSH hosts that
# tests/run makes as root (UNC_SSH_ROOTS).
require_ssh_hosts() {
    require_ansible
    [ -n "${UNC_SSH_ROOTS:-}" ] && return 0
    local why="UNC_SSH_ROOTS is not set (tests/run makes the SSH hosts' roots as root)"
    [ -n "${CI:-}" ] && { echo "# $why" >&2; return 1; }
    skip "$why"
}

# install_collection DIR: `ansible-galaxy collection build` of the
# collection's sources into DIR, and the archive installed under
# DIR/collections (ANSIBLE_COLLECTIONS_PATH=DIR/collections finds it).
install_collection() {
    "$ANSIBLE_VENV/bin/ansible-galaxy" collection build "$UNC_ANSIBLE" --output-path "$1" \
        >"$1/build.log" 2>&1 || { cat "$1/build.log" >&2; return 1; }
    "$ANSIBLE_VENV/bin/ansible-galaxy" collection install -p "$1/collections" \
        "$1"/unc-containers-*.tar.gz >"$1/install.log" 2>&1 || { cat "$1/install.log" >&2; return 1; }
}

# ansible_env DIR: the environment for Ansible's commands: the collection
# in DIR/collections, everything Ansible writes below DIR, no SSH master
# processes that would outlive the test, results as one JSON object
# (ansible_callback/unc_results.py).
ansible_env() {
    export ANSIBLE_COLLECTIONS_PATH=$1/collections
    export ANSIBLE_LOCAL_TEMP=$1/tmp ANSIBLE_HOME=$1/home
    export ANSIBLE_SSH_ARGS="-o ControlMaster=no" ANSIBLE_PIPELINING=True
    export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
    export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_DEPRECATION_WARNINGS=False
    export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
    export ANSIBLE_CALLBACK_PLUGINS=$ANSIBLE_HELPERS_DIR/ansible_callback
    export ANSIBLE_STDOUT_CALLBACK=unc_results
}

# local_setup: setup() of the files that run Ansible on this machine (a
# local connection): the collection installed by setup_file in
# $BATS_FILE_TMPDIR/coll, the "remote" temporary files there too (not
# ~/.ansible/tmp), and a scratch directory. The files call require_ansible
# themselves: tests/run looks for that word to prepare Ansible's venv.
local_setup() {
    ansible_env "$BATS_FILE_TMPDIR/coll"
    export ANSIBLE_REMOTE_TEMP=$BATS_FILE_TMPDIR/remote-tmp
    setup_scratch
}
