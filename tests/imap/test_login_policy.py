"""Plain-text logins are for this machine only (RFC 3501 §6.1.1, §6.2.3).

The listeners in these tests only ever see loopback peers, so the session
runs here over an in-memory byte stream that says it comes from elsewhere.
"""

import asyncio

from protocols.imap.session import ImapSession, SessionOptions


class MemoryStream:
    """A session's transport fed from a script, collecting the replies."""

    def __init__(self, peer: tuple[str, int], script: list[bytes]) -> None:
        self.peer = peer
        self.secure = False
        self.sent = bytearray()
        self._script = list(script)

    async def read(self) -> bytes:
        await asyncio.sleep(0)
        return self._script.pop(0) if self._script else b""

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def start_tls(self) -> None:
        self.secure = True

    async def close(self) -> None:
        pass


async def converse(peer: tuple[str, int], *lines: bytes) -> list[bytes]:
    stream = MemoryStream(peer, list(lines))
    session = ImapSession(stream, SessionOptions("test", tls_available=True))
    await session.run()
    return bytes(stream.sent).split(b"\r\n")


async def test_remote_peers_must_start_tls_before_logging_in():
    replies = await converse(
        ("192.0.2.7", 40000),
        b"a1 CAPABILITY\r\n",
        b"a2 LOGIN alice secret\r\n",
        b"a3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    )

    capabilities = next(line for line in replies if line.startswith(b"* CAPABILITY"))
    assert b"LOGINDISABLED" in capabilities.split()
    assert b"AUTH=PLAIN" not in capabilities.split()
    assert b"STARTTLS" in capabilities.split()
    assert any(line.startswith(b"a2 NO [PRIVACYREQUIRED]") for line in replies)
    assert any(line.startswith(b"a3 NO [PRIVACYREQUIRED]") for line in replies)


async def test_after_starttls_remote_peers_may_log_in():
    replies = await converse(
        ("192.0.2.7", 40000), b"a1 STARTTLS\r\n", b"a2 CAPABILITY\r\n"
    )

    capabilities = next(line for line in replies if line.startswith(b"* CAPABILITY"))
    assert b"AUTH=PLAIN" in capabilities.split()
    assert b"LOGINDISABLED" not in capabilities.split()
    assert b"STARTTLS" not in capabilities.split()


async def test_loopback_peers_may_log_in_without_tls():
    replies = await converse(("127.0.0.1", 40000), b"a1 CAPABILITY\r\n")

    capabilities = next(line for line in replies if line.startswith(b"* CAPABILITY"))
    assert b"AUTH=PLAIN" in capabilities.split()
    assert b"LOGINDISABLED" not in capabilities.split()
