"""A scripted SMTP server for tests: accepts every mail, except the replies scripted per
recipient (a permanent 550, a temporary 451 a number of times), and can be stopped and
started again on the same port (the server "down").

It runs on the test's event loop; the mailers under test talk to it from threads
(``asyncio.to_thread``), as the mail sender does.
"""

from __future__ import annotations

import asyncio
import contextlib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

REFUSED = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
DEFERRED = "451 4.7.1 <{address}>: Recipient address deferred: try again later"


class ScriptedSmtpServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        #: every message accepted, once per accepted recipient
        self.delivered: list[tuple[str, EmailMessage]] = []
        #: how often each recipient was asked for (RCPT TO)
        self.asked: dict[str, int] = {}
        self._refused: dict[str, str] = {}
        self._deferred: dict[str, list[str]] = {}
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def refuse(self, address: str, reply: str = REFUSED) -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (a 5xx) until ``accept``."""
        self._refused[address.lower()] = reply.format(address=address)

    def defer(self, address: str, times: int = 1, reply: str = DEFERRED) -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (a 4xx) the next ``times`` times."""
        self._deferred[address.lower()] = [reply.format(address=address)] * times

    def accept(self, address: str) -> None:
        """Take mail for ``address`` again (the mailbox was "fixed")."""
        self._refused.pop(address.lower(), None)
        self._deferred.pop(address.lower(), None)

    def delivered_to(self, address: str) -> list[EmailMessage]:
        return [m for to, m in self.delivered if to.lower() == address.lower()]

    async def start(self) -> None:
        """Listen (on the port of the previous start, if any)."""
        self._server = await asyncio.start_server(
            self._session, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open session."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 test.example.jp ESMTP scripted")
        recipients: list[str] = []
        while line := await reader.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                await reply("250-test.example.jp\r\n250 8BITMIME")
            elif verb in ("HELO", "NOOP"):
                await reply("250 OK")
            elif verb in ("MAIL", "RSET"):
                recipients = []
                await reply("250 OK")
            elif verb == "RCPT":
                address = command.partition(":")[2].strip().strip("<>")
                answer = self._rcpt(address)
                if answer.startswith("250"):
                    recipients.append(address)
                await reply(answer)
            elif verb == "DATA":
                if not recipients:
                    await reply("503 5.5.1 no valid recipients")
                    continue
                await reply("354 end with <CRLF>.<CRLF>")
                self._deliver(recipients, await self._data(reader))
                await reply("250 2.0.0 OK queued")
            elif verb == "QUIT":
                await reply("221 2.0.0 bye")
                return
            else:
                await reply("502 5.5.2 command not recognised")

    def _rcpt(self, address: str) -> str:
        key = address.lower()
        self.asked[key] = self.asked.get(key, 0) + 1
        if key in self._refused:
            return self._refused[key]
        pending = self._deferred.get(key)
        if pending:
            return pending.pop(0)
        return "250 2.1.5 OK"

    @staticmethod
    async def _data(reader: asyncio.StreamReader) -> bytes:
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _deliver(self, recipients: list[str], raw: bytes) -> None:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        for address in recipients:
            self.delivered.append((address, parsed))
