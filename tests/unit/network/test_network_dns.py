"""network/dns.py and each backend's resolv_conf: the container's
/etc/resolv.conf under user-mode networking."""

import pytest

from mounts.plan import NEWROOT, STAGING
from network import bridge, dns, pasta, slirp4netns

HOST_PUBLIC = "# generated\nsearch example.org\nnameserver 192.0.2.53\noptions ndots:2\n"
HOST_STUB = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n"


def backend(module):
    return module.Backend([], {"slirp4netns": "/usr/bin/slirp4netns", "pasta": "/usr/bin/pasta",
                               "ip": "/sbin/ip", "nsenter": "/usr/bin/nsenter"})


def test_slirp4netns_dns_is_its_forwarder_with_the_host_search_list():
    b = backend(slirp4netns)
    assert b.resolv_conf(HOST_PUBLIC) == \
        "nameserver 10.0.2.3\nsearch example.org\noptions ndots:2\n"
    assert getattr(b, "dns_forward", None) is None
    assert b.resolv_conf("") == "nameserver 10.0.2.3\n"
    assert slirp4netns.DNS == "10.0.2.3"


def test_pasta_dns_is_the_hosts_file_when_reachable():
    b = backend(pasta)
    assert b.resolv_conf(HOST_PUBLIC) == HOST_PUBLIC
    assert b.dns_forward is None
    assert b.resolv_conf(HOST_PUBLIC.rstrip("\n")) == HOST_PUBLIC


def test_pasta_dns_forwards_when_the_host_has_only_a_loopback_resolver():
    b = backend(pasta)
    text = b.resolv_conf(HOST_STUB)
    assert b.dns_forward == pasta.DNS
    assert text.splitlines() == [f"nameserver {pasta.DNS}", "options edns0 trust-ad",
                                 "search lan"]


def test_pasta_without_any_resolver_leaves_it_alone():
    b = backend(pasta)
    assert b.resolv_conf("# empty\n") is None
    assert b.dns_forward is None


def test_bridge_leaves_resolv_conf_alone():
    assert backend(bridge).resolv_conf(HOST_PUBLIC) is None


def test_kept_lines_and_nameservers():
    assert dns.kept_lines(HOST_PUBLIC + "domain d\n\n") == \
        ["search example.org", "options ndots:2", "domain d"]
    assert dns.nameservers(HOST_STUB + "nameserver\nnameserver ::1\n") == ["127.0.0.53", "::1"]
    assert dns.with_nameserver("10.0.2.3", HOST_STUB) == \
        "nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch lan\n"


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.53", True), ("127.1.2.3", True), ("::1", True), ("192.0.2.53", False),
    ("fe80::1", False),
])
def test_loopback(address, loopback):
    assert dns.loopback(address) is loopback


def test_read_gives_the_text_or_nothing(tmp_path):
    (tmp_path / "r").write_text(HOST_STUB)
    assert dns.read(str(tmp_path / "r")) == HOST_STUB
    assert dns.read(str(tmp_path / "missing")) == ""


def test_resolv_conf_op_is_a_bind_from_the_staging_tmpfs():
    op = dns.ResolvConf("nameserver 10.0.2.3\n")
    assert op.sources == (STAGING + "/resolv.conf",) and op.dest == dns.RESOLV_CONF
    assert op.describe() == (
        'write /tmp/resolv.conf ("nameserver 10.0.2.3", ...); '
        f'mount("/tmp/resolv.conf", "{NEWROOT}/etc/resolv.conf", NULL, MS_BIND|MS_REC)')
