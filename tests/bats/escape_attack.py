"""The escape tests' attacker of unc's own processes (escape.bats, escape_root.bats).

    python3 escape_attack.py try SOCKET PID...
        Inside a container: for each PID, try what runc's CVE-2019-5736
        exploit does to /proc/PID/exe: readlink, open for writing, open
        O_PATH (a handle to reopen for writing once the program has exited).
        One line per attempt: "PID what: refused (ERRNO)" or "PID what:
        OPENED". An O_PATH handle obtained is sent over the unix socket
        SOCKET (SCM_RIGHTS) to the receiver, outside the container.
    python3 escape_attack.py receive SOCKET PIDFILE
        On the host: take the handles sent, wait for the process whose pid
        PIDFILE holds to exit (unc), then try to open each handle for
        writing through /proc/self/fd/N, and append to it when that works.
        Prints "reopened for writing: WROTE" or "no handle".
    python3 escape_attack.py host MARKER
        Inside a container that sees the host's /proc (--stage=user_pid,
        uts, --bind-proc): find unc's host-side processes (MARKER in their
        command line, and not in our PID namespace: one NSpid), then try
        /proc/PID/exe, kill(2) with SIGKILL, ptrace(2) PTRACE_ATTACH,
        pidfd_open(2) and pidfd_send_signal(2) on a /proc/PID directory.
        One line per attempt, as above; "found N" first.
"""

import array
import ctypes
import errno
import os
import socket
import sys
import time


def attempt(pid, what, flags, sock):
    path = f"/proc/{pid}/exe"
    try:
        if what == "readlink":
            os.readlink(path)
            fd = None
        else:
            fd = os.open(path, flags)
    except OSError as e:
        print(f"{pid} {what}: refused ({errno.errorcode.get(e.errno, e.errno)})")
        return
    print(f"{pid} {what}: OPENED")
    if fd is not None:
        if what == "O_PATH" and sock is not None:
            sock.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
        os.close(fd)


def try_all(sockpath, pids):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sockpath)
    for pid in pids:
        attempt(pid, "readlink", 0, sock)
        attempt(pid, "O_WRONLY", os.O_WRONLY, sock)
        attempt(pid, "O_RDONLY", os.O_RDONLY, sock)
        attempt(pid, "O_PATH", os.O_PATH, sock)
    sock.close()


def host(marker):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{name}/cmdline", "rb").read()
            nspid = [l for l in open(f"/proc/{name}/status") if l.startswith("NSpid:")]
        except OSError:
            continue
        if marker.encode() in cmdline and len(nspid[0].split()) == 2:
            found.append(int(name))
    print(f"found {len(found)}")
    for pid in found:
        attempt(pid, "readlink", 0, None)
        attempt(pid, "O_RDONLY", os.O_RDONLY, None)
        attempt(pid, "O_PATH", os.O_PATH, None)
        try:
            os.kill(pid, 9)
            print(f"{pid} kill: SENT")
        except OSError as e:
            print(f"{pid} kill: refused ({errno.errorcode.get(e.errno, e.errno)})")
        for what, call in (("ptrace", lambda: libc.ptrace(16, pid, 0, 0)),        # PTRACE_ATTACH
                           ("pidfd_open", lambda: libc.syscall(434, pid, 0))):
            ctypes.set_errno(0)
            if call() < 0:
                print(f"{pid} {what}: refused ({errno.errorcode.get(ctypes.get_errno())})")
            else:
                print(f"{pid} {what}: DONE")
        try:
            dirfd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            print(f"{pid} pidfd_send_signal: refused ({errno.errorcode.get(e.errno)})")
            continue
        ctypes.set_errno(0)
        if libc.syscall(424, dirfd, 9, None, 0) < 0:
            print(f"{pid} pidfd_send_signal: refused ({errno.errorcode.get(ctypes.get_errno())})")
        else:
            print(f"{pid} pidfd_send_signal: SENT")
        os.close(dirfd)


def receive(sockpath, pidfile):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sockpath)
    os.chmod(sockpath, 0o777)
    server.listen(1)
    print("listening", flush=True)
    conn, _ = server.accept()
    fds = []
    while True:
        data, ancdata, _, _ = conn.recvmsg(1, socket.CMSG_SPACE(4 * 4))
        if not data:
            break
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(array.array("i", payload[:len(payload) - len(payload) % 4]))
    pid = int(open(pidfile).read())
    for _ in range(600):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    if not fds:
        print("no handle")
    for fd in fds:
        try:
            with open(f"/proc/self/fd/{fd}", "ab") as f:
                f.write(b"\n# written by the escape test\n")
            print("reopened for writing: WROTE")
        except OSError as e:
            print(f"reopened for writing: refused ({errno.errorcode.get(e.errno, e.errno)})")


if __name__ == "__main__":
    if sys.argv[1] == "try":
        try_all(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "host":
        host(sys.argv[2])
    else:
        receive(sys.argv[2], sys.argv[3])
