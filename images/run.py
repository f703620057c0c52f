"""What the mount stage needs of an image for one run (--image).

Used by stages/mount.py's prepare, and imported only when --image is given:
the image's record and layers from the store, held for the run; its
config's defaults for the command; and, with --persist, either the
directories of a writable layer that outlives the run, or, where overlayfs
is refused (before Linux 5.11) or DIR/root exists, a copy of the image in
DIR/root made once, which then is the root (images/copy.py).
"""

import os

from core import Fail


def prepare(run):
    """--image: the image from the store (images/store.py), its config's
    defaults for the command (run.process), the --persist DIR. Returns
    (image, root, layers): what the store handed out for this run (held
    for its length), DIR/root when a copy of the image is the root (else
    None), and the layer directories, top first, for overlayfs (None with
    a copy)."""
    name = run.opts["--image"]
    if run.opts.get("--rootfs") is not None:
        raise Fail("--image and --rootfs both give the root filesystem; choose one")
    if not name:
        raise Fail("invalid --image '': give an image name (unc images lists them)")
    from images.store import for_run
    image = for_run(name)
    _, record, layers, config = image
    run.trace(f"image {record['name']} ({record['digest']}): {len(layers)} layers")
    run.process.image_defaults(env=config.get("Env"), workdir=config.get("WorkingDir"),
                               user=config.get("User"), entrypoint=config.get("Entrypoint"),
                               cmd=config.get("Cmd"))
    persist = run.opts.get("--persist")
    if persist is not None:
        if run.opts.get("--read-only"):
            raise Fail("--persist keeps a writable layer, --read-only has none; choose one")
        if not persist:
            raise Fail("invalid --persist '': give a directory")
        persist = run.opts["--persist"] = os.path.abspath(persist)
        if os.path.isdir(persist + "/root") or not overlay_unprivileged():
            # No unprivileged overlayfs (before Linux 5.11), or asked for
            # by DIR/root: a copy of the image in DIR/root is the root.
            return image, image_copy(run, record, layers, persist), None
        try:
            for sub in ("", "/upper", "/work"):
                os.makedirs(persist + sub, 0o755, exist_ok=True)
        except OSError as e:
            raise Fail(f"invalid --persist {persist}: {e.strerror}") from None
    return image, None, layers


def overlay_unprivileged(release=None):
    """Whether this kernel lets a user namespace mount overlayfs (5.11+)."""
    import re
    found = re.match(r"(\d+)\.(\d+)", release or os.uname().release)
    return not found or (int(found.group(1)), int(found.group(2))) >= (5, 11)


def image_copy(run, record, layers, persist):
    """DIR/root made from the image's layers once (images/copy.py)."""
    root = persist + "/root"
    try:
        os.makedirs(root, 0o755, exist_ok=True)
        empty = not os.listdir(root)
    except OSError as e:
        raise Fail(f"invalid --persist {persist}: {e.strerror}") from None
    if empty:
        from images import copy, userns
        run.trace(f"copying image {record['name']} into {root} (no overlayfs)")
        status = userns.run(lambda: copy.copy(list(reversed(layers)), root),
                            map_auto=bool(record.get("ids")), trace=run.trace)
        if status:
            raise Fail(f"cannot copy image {record['name']} into {root}", status)
    return root
