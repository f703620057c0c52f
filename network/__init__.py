"""The machinery of the net stage (stages/net.py), beneath its lesson.

    ports.py        -p values: parsed, checked, and the host port bound once
    host.py         what the host offers: /dev/net/tun, a default route,
                    the helper programs
    helpers.py      helper processes on the host, tied to unc's life
    slirp4netns.py  the slirp4netns backend
    pasta.py        the pasta backend
    bridge.py       the bridge backend (root): unc0, a veth pair, ip(8)
    forwarder.py    bridge mode's relay for published ports
    dns.py          the container's /etc/resolv.conf, through the mount plan
    facts.py        what `unc check` says of the tun device, pasta and
                    slirp4netns (their versions); never on a run's path

A backend is a module with a class Backend(ports, programs), which the net
stage imports only when its mode is used:

    Backend.resolv_conf(text)   the container's /etc/resolv.conf given the
                                host's, or None to leave the root's
    Backend.start(run)          in unc on the host, once run.pid exists;
                                returns once the container's network works
    Backend.stop(run)           undo start, however far it got
"""
