"""The terminal: who has its foreground, and its modes.

Used by core/run.py. When unc's stdin is its controlling terminal and unc
is in the foreground, the container's command gets a process group of its
own and the foreground (so ^C and ^Z reach it, not unc); unc takes it back
at the end, with the modes a killed command may have left changed.
"""

import os

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal


def foreground():
    """(True, modes) when stdin is our controlling terminal and we are in its
    foreground; (False, None) otherwise."""
    try:
        if not (os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()):
            return False, None
    except OSError:
        return False, None
    import termios
    return True, termios.tcgetattr(0)


def take():
    """Make our process group the terminal's foreground group, so that the
    keyboard's ^C and ^Z reach the container and not unc."""
    os.setpgid(0, 0)
    # A background process that changes the terminal gets SIGTTOU.
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(0, os.getpgrp())
    finally:
        signal.signal(signal.SIGTTOU, old)


def give_back(modes):
    """Take the foreground back for unc's process group; and restore the
    terminal's `modes` (not None when a signal ended the container), as a
    shell does for a killed job."""
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(0, os.getpgrp())
        if modes is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, modes)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)
