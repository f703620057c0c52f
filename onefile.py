"""What unc does because it runs from a PyInstaller one-file binary.

dist/unc is not unc itself but PyInstaller's launcher: a small C program
that unpacks the bundle (libpython, the modules) into a fresh directory
<tmp>/_MEIxxxxxxxxyyyyyy, starts the Python side of unc as its child, passes
every signal on to it (1-64 but SIGCHLD, SIGTSTP and the unblockable ones),
waits, deletes the directory and exits with the child's status:

    launcher (dist/unc, pid L)      unpacks into $TMPDIR/_MEI<L in hex><6 random>
     └─ unc (Python, this code)
         └─ ... the container

Two things go wrong when the launcher is killed with SIGKILL, which it
cannot catch:

1. The Python unc is orphaned and the container would run on. unc asks the
   kernel for a parent-death signal (prctl(PR_SET_PDEATHSIG, SIGKILL)): when
   the launcher dies, unc gets SIGKILL, and the container's processes, which
   have the same tie to unc, follow. The launcher may already be dead when
   the prctl runs; the name of the unpack directory holds the launcher's
   pid, so unc compares it with getppid() right after, and ends itself if
   they differ.

2. The unpack directory stays behind (about 10 MB, in /tmp on most hosts).
   The launcher takes no lock and keeps no record of it, so unc marks the
   directories it runs from: it creates the file `.unc-alive` in its own
   directory, holding an flock(2) on it for as long as it lives (the kernel
   drops the lock when the last holder dies, however it dies; the file is
   created under another name, locked, then renamed, so it never exists
   unlocked while its owner lives). At every start unc then looks at the
   other `_MEI*` entries of the same temporary directory and removes one
   only when all of these hold:
     - its name has the launcher's exact format and it is a directory
       (not a symlink) owned by the current user;
     - the launcher pid in its name does not exist any more in our PID
       namespace (so a live launcher can still delete its own directory
       without finding it half gone);
     - it holds `.unc-alive` (so it is unc's, not another PyInstaller
       program's, and unc got as far as marking it), and the flock on it
       can be taken, i.e. no process anywhere holds it: flocks, unlike
       pids, mean the same thing across PID namespaces, so a unc running
       in a container that shares /tmp never looks dead.
   A launcher killed while it was still unpacking, before the Python side
   marked the directory, leaves a directory that is never removed; that
   window is a few milliseconds at each start.

The cost at start-up: one listing of the temporary directory, a stat of the
`_MEI*` entries in it, three system calls for the mark.
"""

import fcntl
import os
import signal
import stat

MARK = ".unc-alive"
_PREFIX = "_MEI"
_HEX = frozenset("0123456789abcdef")


def launcher_pid(name):
    """The launcher's pid in an unpack directory's name, else None.

    PyInstaller 6's bootloader (pyi_utils_posix.c) names it
    "_MEI" + its own pid as %08x + the six characters mkdtemp(3) adds,
    18 characters in all; its own security check insists on exactly that.
    """
    if len(name) != 18 or not name.startswith(_PREFIX) or not set(name[4:12]) <= _HEX:
        return None
    return int(name[4:12], 16) or None


def start(meipass):
    """Everything the one-file runtime needs at start; returns the mark's
    file descriptor (keep it open), or None when not run from a one-file
    unpack directory."""
    pid = launcher_pid(os.path.basename(meipass))
    if pid is None:
        return None                 # a one-dir build or an unknown layout
    tie_to_launcher(pid)
    fd = mark_alive(meipass)
    remove_stale(os.path.dirname(meipass), meipass)
    return fd


def tie_to_launcher(launcher):
    """Die with the launcher: a parent-death signal, then a look at the
    parent, in case the launcher died before the prctl."""
    import kernel
    kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != launcher:
        os.kill(os.getpid(), signal.SIGKILL)


def mark_alive(directory):
    """Create directory/.unc-alive, locked for as long as this process lives."""
    temporary = os.path.join(directory, f"{MARK}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                 | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(temporary, os.path.join(directory, MARK))
    return fd


def remove_stale(tmpdir, own, uid=None):
    """Remove the unpack directories in tmpdir whose unc is dead; return
    their paths."""
    uid = os.geteuid() if uid is None else uid
    removed = []
    try:
        entries = list(os.scandir(tmpdir))
    except OSError:
        return removed
    for entry in entries:
        pid = launcher_pid(entry.name)
        if pid is None or entry.name == os.path.basename(own):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or process_exists(pid):
            continue
        if _remove_if_unlocked(entry.path):
            removed.append(entry.path)
    return removed


def process_exists(pid):
    """Whether a process (or zombie) `pid` exists in our PID namespace."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                 # exists, belongs to someone else
    return True


def _remove_if_unlocked(path):
    try:
        fd = os.open(os.path.join(path, MARK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False                # not unc's, or not marked yet
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False            # its unc still lives (or is being removed)
        # Holding the lock while removing keeps a second remover out.
        rmtree(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def rmtree(path):
    """Remove a directory tree without following symbolic links."""
    for entry in os.scandir(path):
        try:
            if entry.is_dir(follow_symlinks=False):
                rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def clean_environ(environ, frozen):
    """The caller's environment without what the one-file launcher added,
    for every program unc starts (the command, network helpers).

    The launcher prepends its unpack directory to LD_LIBRARY_PATH (keeping
    the caller's value in LD_LIBRARY_PATH_ORIG) and sets _PYI_* and _MEI*
    variables for itself; no program unc starts may see them.
    """
    env = dict(environ)
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        env["LD_LIBRARY_PATH"] = original
    elif frozen:
        env.pop("LD_LIBRARY_PATH", None)
    for name in list(env):
        if name.startswith(("_PYI_", "_MEI")):
            del env[name]
    return env
