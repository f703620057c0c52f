#!/usr/bin/env python3
"""unc: run a command in an unprivileged Linux container.

This file is only the entry. Read a stage module in stages/ to learn what
it adds to the container (stages/__init__.py says how stages meet the
core); read core/ to learn how any container starts (core/__init__.py
lists its modules, core/run.py has the sequence of processes).
"""

import os
import sys

if not getattr(sys, "frozen", False):
    # `python3 -I unc.py` leaves the script's directory out of sys.path.
    _here = os.path.dirname(os.path.realpath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
else:
    # The build has no archive of modules (unc.spec, noarchive): every module
    # is a .pyc file, which Python's own FileFinder loads. PyInstaller's
    # finder sits in front of it for every directory and only hands each
    # look-up over, after formatting its trace messages: about 0.1 ms of
    # Python for every import (bench/README.md). Without it, the path
    # finders are made anew, without it.
    _hooks = [h for h in sys.path_hooks
              if getattr(h, "__qualname__", "") != "PyiFrozenFinder.path_hook"]
    if len(_hooks) != len(sys.path_hooks):
        sys.path_hooks[:] = _hooks
        sys.path_importer_cache.clear()

    class _BuildFinder:
        """Finds a module of the build by its name alone: NAME.pyc or
        NAME/__init__.pyc below the build's directory (noarchive keeps the
        tree of names). Python's path finder would ask the zip importer of
        base_library.zip and the finders of two directories in turn, in
        Python, for every import; this is one or two stat(2)s. Extension
        modules (lib-dynload) and what is not there are left to it."""

        top = sys.path[-1]

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            import _frozen_importlib_external as external
            base = os.path.join(cls.top, *name.split("."))
            for file, package in ((base + ".pyc", False), (base + "/__init__.pyc", True)):
                if os.path.isfile(file):
                    return external.spec_from_file_location(
                        name, file, loader=external.SourcelessFileLoader(name, file),
                        submodule_search_locations=[base] if package else None)
            return None

    if os.path.isdir(_BuildFinder.top) and not _BuildFinder.top.endswith(".zip"):
        sys.meta_path.insert(sys.meta_path.index(
            next(f for f in sys.meta_path if getattr(f, "__name__", "") == "PathFinder")),
            _BuildFinder)


def main(argv=None):
    from core import cli
    return cli.main(argv)


def leave(status):
    """Exit with `status`, skipping the interpreter's teardown.

    unc's work is done when main() returns; freeing every module and object
    first, as sys.exit would, costs milliseconds on every start and changes
    nothing a caller can see. Only the buffered output must get out. atexit
    handlers and finalizers (a TemporaryDirectory left to the garbage
    collector) do not run: cleaning up is the stages' cleanup hooks' job."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:    # None: the fd was closed when unc started
                stream.flush()
        except (OSError, ValueError):
            pass                      # a reader that went away (`unc --help | true`)
    os._exit(status if isinstance(status, int) else 125)


if __name__ == "__main__":
    # docopt-ng's `re` and `typing` only when needed (core/docopt_fast.py).
    from core import docopt_fast
    docopt_fast.install()
    try:
        leave(main() or 0)
    except SystemExit as e:
        leave(e.code or 0)
