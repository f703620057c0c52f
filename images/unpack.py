"""A layer archive into a directory, in overlayfs' form, trusting nothing
in the archive.

Used by images/cli.py (through images/sources.py and images/registry.py,
which hand it the layer streams), inside the store's user namespace
(images/userns.py). Python's tarfile reads the headers; every member is
checked and written here, never by tarfile.extract: Debian 12's Python
3.11.2 has no extraction filters, and where they exist the `data` filter
refuses the absolute symlinks real images hold. The rules:

  - A member's name is relative, with no `..` (a leading `./` or `/`
    is taken off: tar writes both). Each parent directory is opened one
    component at a time with O_NOFOLLOW from the layer's own directory
    fd, so a symlink, or a hardlink to one, can never serve as a parent
    and lead outside: such an archive is refused.
  - A hardlink's target obeys the same rules and must be a file of this
    same layer, already written: a link never reaches a host file.
  - Symlinks are written as they are and never followed here; they are
    resolved later inside the container, where / is the image's root.
  - Device nodes are skipped (a note under --trace): a user namespace may
    not make them, and the container gets its own /dev.
  - `.wh.NAME` deletes NAME of the lower layers: it becomes the overlayfs
    whiteout, a character device 0/0 (which the kernel lets a user
    namespace make since Linux 5.8). `.wh..wh..opq` makes its directory
    opaque: the xattr user.overlay.opaque=y, which overlayfs reads when
    mounted with `userxattr` (unprivileged overlayfs uses the user.*
    namespace, trusted.* needing CAP_SYS_ADMIN on the host).
  - Owners: with keep_owners (--map-auto) each file gets the archive's
    uid and gid, which the helper's map sends to the caller's subordinate
    range; without, every file stays the caller's (root of the helper).
"""

import errno
import os
import stat

from core import Fail, one_line

CHUNK = 1 << 20
OPAQUE = ".wh..wh..opq"
WHITEOUT = ".wh."
OPAQUE_XATTR = "user.overlay.opaque"


class Layer:
    """The writer of one layer into the directory `root` (it exists)."""

    def __init__(self, root, what, keep_owners=False, trace=None):
        self.what = what
        self.keep_owners = keep_owners
        self.trace = trace or (lambda message: None)
        self.rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.dirs = []          # (parts, mode): modes applied last, deepest first
        self.files = 0
        self.cached = None      # (parts, fd) of the last regular file's directory

    def refuse(self, name, why):
        raise Fail(f"{self.what}: refused member {one_line(name)!r}: {why}; the archive "
                   "is not a safe image layer, nothing of it was kept")

    def close(self):
        self.forget()
        os.close(self.rootfd)

    # ------------------------------------------------------------ names

    def parts(self, name, role="its name"):
        """The components of a member name, checked."""
        if "\0" in name:
            self.refuse(name, f"{role} holds a NUL byte")
        if name.startswith("/"):
            self.refuse(name, f"{role} is an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            self.refuse(name, f"{role} holds '..' and could leave the layer")
        return parts

    def parent(self, name, parts, create=True):
        """An fd of the directory holding the member, walked from the
        layer's root one component at a time without following a symlink
        (O_NOFOLLOW): a symlink or file as a parent is refused."""
        fd = os.dup(self.rootfd)
        try:
            for i, part in enumerate(parts):
                try:
                    new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=fd)
                except (NotADirectoryError, OSError) as e:
                    if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    kind = "a symlink" if stat.S_ISLNK(
                        os.lstat(part, dir_fd=fd).st_mode) else "not a directory"
                    self.refuse(name, f"its parent {'/'.join(parts[:i + 1])} is {kind}")
                os.close(fd)
                fd = new
            return fd
        except BaseException:
            os.close(fd)
            raise

    def clear(self, dirfd, leaf, keep_dir=False):
        """Remove what this layer has at `leaf` already (tar's last one wins)."""
        try:
            st = os.lstat(leaf, dir_fd=dirfd)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            import shutil
            shutil.rmtree(leaf, dir_fd=dirfd)
        else:
            os.unlink(leaf, dir_fd=dirfd)

    # ------------------------------------------------------------ members

    def add(self, tar, member):
        name = member.name
        parts = self.parts(name)
        if not parts:
            if member.isdir():
                os.fchmod(self.rootfd, member.mode & 0o7777)
                self.chown(self.rootfd, None, member)
            return
        *above, leaf = parts
        if leaf.startswith(WHITEOUT):
            self.forget()
            return self.whiteout(name, above, leaf)
        if member.isreg() and self.cached is not None and self.cached[0] == above:
            # The directory of the member before: tar lists a directory's
            # files together. Only regular files use it, and every other
            # kind of member (which may replace a directory) drops it.
            self.regular_in(tar, member, self.cached[1], leaf)
            self.files += 1
            return
        self.forget()
        dirfd = self.parent(name, above)
        if member.isreg():
            try:
                self.regular_in(tar, member, dirfd, leaf)
            except BaseException:
                os.close(dirfd)
                raise
            self.cached = (above, dirfd)
            self.files += 1
            return
        try:
            if member.isdir():
                self.clear(dirfd, leaf, keep_dir=True)
                try:
                    os.mkdir(leaf, 0o755, dir_fd=dirfd)
                except FileExistsError:
                    pass
                self.dirs.append((parts, member))
            elif member.isreg():
                self.clear(dirfd, leaf)
                self.regular(tar, member, dirfd, leaf)
            elif member.issym():
                self.clear(dirfd, leaf)
                os.symlink(member.linkname, leaf, dir_fd=dirfd)
                self.chown(dirfd, leaf, member)
            elif member.islnk():
                self.hardlink(name, member, dirfd, leaf)
            elif member.ischr() and member.devmajor == 0 and member.devminor == 0:
                self.clear(dirfd, leaf)        # a whiteout already in overlay form
                os.mknod(leaf, stat.S_IFCHR | 0o600, 0, dir_fd=dirfd)
            elif member.ischr() or member.isblk():
                self.trace(f"{self.what}: device node {one_line(name)} skipped "
                           "(a user namespace may not make devices)")
            elif member.isfifo():
                self.clear(dirfd, leaf)
                os.mkfifo(leaf, member.mode & 0o7777, dir_fd=dirfd)
                self.chown(dirfd, leaf, member)
            else:
                self.trace(f"{self.what}: member {one_line(name)} of type "
                           f"{member.type!r} skipped")
        finally:
            os.close(dirfd)
        self.files += 1

    def forget(self):
        if self.cached is not None:
            os.close(self.cached[1])
            self.cached = None

    def regular_in(self, tar, member, dirfd, leaf):
        self.clear(dirfd, leaf)
        self.regular(tar, member, dirfd, leaf)

    def regular(self, tar, member, dirfd, leaf):
        source = tar.extractfile(member)
        fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=dirfd)
        try:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            # chown(2) clears the set-user-ID and set-group-ID bits: mode last.
            self.chown(fd, None, member)
            os.fchmod(fd, member.mode & 0o7777)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)

    def hardlink(self, name, member, dirfd, leaf):
        target = self.parts(member.linkname, "its link target")
        if not target:
            self.refuse(name, "it is a hardlink to the layer's root")
        try:
            tfd = self.parent(name, target[:-1], create=False)
        except FileNotFoundError:
            tfd = None
        try:
            try:
                st = os.lstat(target[-1], dir_fd=tfd) if tfd is not None else None
            except FileNotFoundError:
                st = None
            if st is None:
                self.refuse(name, f"it is a hardlink to {one_line(member.linkname)}, "
                            "which this layer does not hold (before it)")
            if stat.S_ISDIR(st.st_mode):
                self.refuse(name, "it is a hardlink to a directory")
            if target != self.parts(name):
                self.clear(dirfd, leaf)
                os.link(target[-1], leaf, src_dir_fd=tfd, dst_dir_fd=dirfd,
                        follow_symlinks=False)
        finally:
            if tfd is not None:
                os.close(tfd)

    def whiteout(self, name, above, leaf):
        dirfd = self.parent(name, above)
        try:
            if leaf == OPAQUE:
                # The directory hides everything the lower layers have in it.
                os.setxattr(dirfd, OPAQUE_XATTR, b"y")
            elif leaf.startswith(WHITEOUT + WHITEOUT):
                self.trace(f"{self.what}: {one_line(name)} (aufs metadata) skipped")
            else:
                hidden = leaf[len(WHITEOUT):]
                if hidden in ("", ".", ".."):
                    self.refuse(name, "a whiteout of nothing")
                self.clear(dirfd, hidden)
                # overlayfs' whiteout: a character device 0/0 (Linux 5.8+
                # allows it in a user namespace).
                os.mknod(hidden, stat.S_IFCHR | 0o600, 0, dir_fd=dirfd)
        finally:
            os.close(dirfd)

    def chown(self, fd, leaf, member):
        if not self.keep_owners:
            return
        try:
            if leaf is None:
                os.fchown(fd, member.uid, member.gid)
            else:
                os.chown(leaf, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            # An id beyond the subordinate range: the kernel has no name
            # for it in this namespace; the file stays root's.
            self.trace(f"{self.what}: {one_line(member.name)}: owner {member.uid}:"
                       f"{member.gid} is not mapped, kept as root")

    def finish(self):
        """Directory modes and owners, deepest first (a 0555 directory is
        still written into until then, as root of the namespace may)."""
        for parts, member in sorted(self.dirs, key=lambda d: -len(d[0])):
            fd = self.parent(member.name, parts, create=False)
            try:
                self.chown(fd, None, member)
                os.fchmod(fd, member.mode & 0o7777)
            finally:
                os.close(fd)


def unpack(stream, root, what, keep_owners=False, trace=None):
    """Write the tar read from `stream` (uncompressed) into directory `root`;
    Fail on a hostile or damaged archive (the caller removes `root`).
    Returns the number of members written."""
    import tarfile
    layer = Layer(root, what, keep_owners, trace)
    try:
        try:
            with tarfile.open(fileobj=stream, mode="r|", errorlevel=2) as tar:
                for member in tar:
                    layer.add(tar, member)
                layer.forget()
        except (tarfile.TarError, EOFError, ValueError, UnicodeError) as e:
            raise Fail(f"{what}: not a complete tar archive ({e or 'truncated'}); "
                       "nothing of it was kept") from None
        layer.finish()
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise Fail(f"{what}: {e.strerror} while unpacking into the store "
                       f"({os.path.dirname(os.path.dirname(root))}); free some space, "
                       "nothing of it was kept") from None
        raise
    finally:
        layer.close()
    return layer.files
