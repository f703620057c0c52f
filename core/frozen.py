"""What unc undoes because it runs as a PyInstaller build.

dist/unc starts PyInstaller's one-dir bootloader from its cache (see
launcher/launcher.c). The launcher, on the bootloader's behalf, prepends
the build's library directory to LD_LIBRARY_PATH, keeping the caller's
value in LD_LIBRARY_PATH_ORIG, and sets _PYI_* variables for it: unc's own
Python needs them, no program that unc starts may see them. Used by
core/run.py (the command's environment) and network/helpers.py (the
helper programs').
"""


def clean_environ(environ, frozen):
    """The caller's environment without what the bootloader added, for
    every program unc starts (the command, network helpers). _MEI* names
    are PyInstaller's older ones."""
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
