"""An image's layers copied into one directory, for kernels that refuse
unprivileged overlayfs.

Used by the mount stage (--image with --persist=DIR) when the kernel is
older than Linux 5.11, which lets no user namespace mount overlayfs, or
when DIR/root exists already (made by a copy before, or by hand to ask for
one where overlayfs is refused for another reason). The layers are applied
bottom first, as overlayfs would show them: a whiteout (character device
0/0) removes what lower layers put at its name, an opaque directory
(user.overlay.opaque=y) drops the lower layers' content first. The copy
runs in the store's user namespace (images/userns.py), with the map the
image was unpacked with, so owners are kept; DIR/root is then the run's
root filesystem, and it keeps the run's writes, as --persist does.
"""

import os
import shutil
import stat

from images.unpack import OPAQUE_XATTR


def is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def opaque(path):
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def apply_layer(layer, dest):
    """Copy one layer's directory tree onto `dest`, overlayfs' rules."""
    for entry in os.scandir(layer):
        target = os.path.join(dest, entry.name)
        st = entry.stat(follow_symlinks=False)
        if is_whiteout(st):
            remove(target)
            continue
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(target) and (not os.path.isdir(target) or os.path.islink(target)
                                            or opaque(entry.path)):
                remove(target)
            if not os.path.lexists(target):
                os.mkdir(target, 0o700)
            apply_layer(entry.path, target)
            os.lchown(target, st.st_uid, st.st_gid)
            os.chmod(target, stat.S_IMODE(st.st_mode))
            continue
        remove(target)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(entry.path, target, follow_symlinks=False)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(target)
        else:
            continue
        os.lchown(target, st.st_uid, st.st_gid)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(target, stat.S_IMODE(st.st_mode))
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy(layers_bottom_first, dest):
    """Flatten the layers into `dest` (an empty directory)."""
    for layer in layers_bottom_first:
        apply_layer(layer, dest)
    return 0
