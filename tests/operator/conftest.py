"""The real control plane of tests/k8s for the operator's API tests (fixtures `control_plane`,
`namespace`, `k8s_bin_dir`)."""

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, home of the k8s package
from k8s.conftest import control_plane, k8s_bin_dir, namespace  # noqa: F401


def host_address() -> str:
    """This machine's own non-loopback IPv4 address: EndpointSlices may not point at 127.0.0.1,
    yet traffic to the host's own address never leaves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # UDP: no packet is sent, only a route chosen
        address = probe.getsockname()[0]
    assert not address.startswith("127."), "no non-loopback IPv4 address on this machine"
    return str(address)
