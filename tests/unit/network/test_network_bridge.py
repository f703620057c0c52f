"""network/bridge.py: what needs no root: addresses, and stopping nothing."""

from core.run import Run
from network import bridge


def test_the_bridge_network():
    assert (bridge.BRIDGE, bridge.NET, bridge.ADDRESS) == ("unc0", "10.100.42", "10.100.42.1")


def test_stop_before_start_does_nothing():
    b = bridge.Backend([], {"ip": "/no/such/ip", "nsenter": "/no/such/nsenter"})
    b.stop(Run({}, []))
    assert (b.veth, b.forwarder) == (None, None)
