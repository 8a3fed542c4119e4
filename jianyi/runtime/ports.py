"""Free TCP ports on the loopback interface, for servers started by tests and `jianyi up`."""

from __future__ import annotations

import socket


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    The kernel picks it (bind to port 0), so parallel test runs don't collide on a fixed
    number. There is a small race — another process may take the port between this call
    and the server binding it — which is acceptable for tests on one machine.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
