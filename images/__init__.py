"""Images: importing, pulling and storing them, and what a run takes of them.

Used by `unc import`, `unc pull`, `unc images` and `unc rmi` (images/cli.py,
which core/cli.py hands those subcommands to), and by the mount stage for
--image (images/store.py: the layers and the config of a stored image). A
plain run never imports this package: everything here is loaded only when
an image is asked for (tests/unit/test_startup.py checks it).

    store.py     the store under $XDG_DATA_HOME/unc: content-addressed
                 layers shared between images, atomic commits, locks
    unpack.py    a layer archive into a directory, in overlayfs' form,
                 checking every member (hostile archives are expected)
    sources.py   what `unc import` reads: rootfs tarballs, OCI image
                 layouts (a directory or a tar of one), docker save archives
    registry.py  the registry HTTP API v2 for `unc pull`
    userns.py    a helper process in a user namespace of its own, where
                 the store's files are written and removed
    progress.py  a progress bar on a terminal, nothing elsewhere
    cli.py       the subcommands
"""
