"""network/slirp4netns.py: its sandbox, its API socket, and stopping it."""

import json
import os
import socket
import threading

import pytest

from core import Fail
from core.run import Run
from network import ports, slirp4netns


def test_slirp_sandbox_only_where_resolv_conf_stays_in_etc_or_run(tmp_path):
    elsewhere = tmp_path / "resolv.conf"
    elsewhere.write_text("nameserver 192.0.2.53\n")
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    assert not slirp4netns.sandbox_works(str(link))
    assert slirp4netns.sandbox_works("/etc/hostname")
    assert slirp4netns.sandbox_works(str(tmp_path / "missing"))


def test_stop_kills_and_reaps_the_helper_and_closes_the_exit_fd(tmp_path):
    b = slirp4netns.Backend([], {"slirp4netns": "/usr/bin/slirp4netns"})
    b.stop(Run({}, []))                         # nothing started: nothing to do
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "31337"])
    r, w = os.pipe()
    b.pid, b.exit_fd, b.dir = pid, w, str(tmp_path / "d")
    os.mkdir(b.dir)
    b.stop(Run({}, []))
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert os.read(r, 1) == b""                 # the exit fd's other end saw EOF
    assert not os.path.exists(str(tmp_path / "d"))
    assert (b.pid, b.exit_fd, b.dir) == (None, None, None)
    b.stop(Run({}, []))                         # twice is harmless


def _api(tmp_path, answer):
    """A one-request API socket answering `answer`; returns its path and
    what it was asked."""
    path = str(tmp_path / "api.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    asked = []

    def serve():
        conn, _ = server.accept()
        with conn:
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
            asked.append(json.loads(data))
            conn.sendall(answer)
        server.close()
    threading.Thread(target=serve, daemon=True).start()
    return path, asked




def test_hostfwd_publishes_on_the_api_socket(tmp_path):
    path, asked = _api(tmp_path, b'{"return": {"id": 1}}')
    slirp4netns.hostfwd(Run({}, []), path, ports.parse_publish("127.0.0.1:8080:80/udp"))
    assert asked == [{"execute": "add_hostfwd", "arguments": {
        "proto": "udp", "host_addr": "127.0.0.1", "host_port": 8080,
        "guest_addr": slirp4netns.ADDRESS, "guest_port": 80}}]


@pytest.mark.parametrize("answer, words", [
    (b'{"error": {"desc": "bad request"}}', "slirp4netns refused it: bad request"),
    (b"", "slirp4netns refused it: no answer"),
])
def test_hostfwd_refused_is_a_failure(tmp_path, answer, words):
    path, _ = _api(tmp_path, answer)
    with pytest.raises(Fail) as e:
        slirp4netns.hostfwd(Run({}, []), path, ports.parse_publish("8080:80"))
    assert str(e.value) == f"cannot publish 8080:80: {words}"
