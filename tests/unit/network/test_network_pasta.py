"""network/pasta.py: pasta's command line."""

from network import pasta
from network.ports import parse_publishes


def test_pasta_arguments():
    ports = parse_publishes(["127.0.0.1:18080:80", "8443:443", "127.0.0.1:5353:53/udp"])
    args = pasta.args(ports, None, as_root=False)
    assert args[:3] == ["-f", "-q", "--config-net"]
    assert ["-t", "127.0.0.1/18080:80"] == args[3:5]
    assert ["-t", "8443:443"] == args[5:7]
    assert ["-u", "127.0.0.1/5353:53"] == args[7:9]
    assert args[-4:] == ["-T", "none", "-U", "none"]
    assert "--runas" not in args
    assert "--dns-forward" not in args


def test_pasta_arguments_without_ports_forward_nothing():
    args = pasta.args([], "169.254.1.1", as_root=True)
    assert ["-t", "none"] == args[args.index("-t"):args.index("-t") + 2]
    assert ["-u", "none"] == args[args.index("-u"):args.index("-u") + 2]
    assert ["--runas", "0"] == args[args.index("--runas"):args.index("--runas") + 2]
    assert ["--dns-forward", "169.254.1.1"] == args[args.index("--dns-forward"):][:2]


def test_pasta_dns_forward_address_is_link_local():
    assert pasta.DNS == "169.254.1.1"
