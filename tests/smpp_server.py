"""A small SMPP 3.4 gateway (SMSC) for tests, written from the specification, not from the
client library it tests: bind_transmitter, submit_sm, enquire_link and unbind, each
answered with its _resp PDU. Messages it accepts are kept in ``received``.

``refuse`` makes it answer with an error status: ``"bind"`` (ESME_RBINDFAIL) or
``"submit"`` (ESME_RSUBMITFAIL), as a gateway does with a wrong password or an exhausted
account.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

GENERIC_NACK = 0x80000000
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000

ESME_ROK = 0x00
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RBINDFAIL = 0x0D
ESME_RSUBMITFAIL = 0x45

# 3GPP TS 23.038's default alphabet, one octet a character (unpacked, as SMPP carries it).
_GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


@dataclass(frozen=True)
class ShortMessage:
    system_id: str
    source_addr: str
    source_addr_ton: int
    destination_addr: str
    dest_addr_ton: int
    data_coding: int
    text: str


@dataclass
class SmppGateway:
    system_id: str = "hoso"
    password: str = "secret"
    refuse: str | None = None  # "bind" or "submit"
    received: list[ShortMessage] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    port: int = 0
    _server: Any = None

    def start(self) -> SmppGateway:
        gateway = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                gateway._session(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"smpp://{self.system_id}:{self.password}@127.0.0.1:{self.port}"

    # ---- one session -------------------------------------------------------------------

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        bound_as: str | None = None
        while True:
            header = _read_exact(conn, 16)
            if header is None:
                return
            length, command_id, _status, sequence = struct.unpack(">IIII", header)
            body = _read_exact(conn, length - 16) if length > 16 else b""
            if body is None:
                return
            if command_id == BIND_TRANSMITTER:
                self.commands.append("bind_transmitter")
                system_id, rest = _cstring(body)
                password, _ = _cstring(rest)
                ok = (self.refuse != "bind" and system_id == self.system_id
                      and password == self.password)
                bound_as = system_id if ok else None
                _send(conn, BIND_TRANSMITTER | RESPONSE, ESME_ROK if ok else ESME_RBINDFAIL,
                      sequence, b"hoso-test-smsc\0" if ok else b"")
            elif command_id == SUBMIT_SM:
                self.commands.append("submit_sm")
                if bound_as is None:
                    _send(conn, SUBMIT_SM | RESPONSE, ESME_RINVBNDSTS, sequence, b"")
                elif self.refuse == "submit":
                    _send(conn, SUBMIT_SM | RESPONSE, ESME_RSUBMITFAIL, sequence, b"")
                else:
                    self.received.append(_short_message(bound_as, body))
                    message_id = f"m{len(self.received)}".encode()
                    _send(conn, SUBMIT_SM | RESPONSE, ESME_ROK, sequence, message_id + b"\0")
            elif command_id == ENQUIRE_LINK:
                _send(conn, ENQUIRE_LINK | RESPONSE, ESME_ROK, sequence, b"")
            elif command_id == UNBIND:
                self.commands.append("unbind")
                _send(conn, UNBIND | RESPONSE, ESME_ROK, sequence, b"")
                return
            else:
                _send(conn, GENERIC_NACK, ESME_RINVCMDID, sequence, b"")


def _short_message(system_id: str, body: bytes) -> ShortMessage:
    _service_type, rest = _cstring(body)
    source_ton, _source_npi = rest[0], rest[1]
    source, rest = _cstring(rest[2:])
    dest_ton, _dest_npi = rest[0], rest[1]
    destination, rest = _cstring(rest[2:])
    _esm_class, _protocol_id, _priority = rest[0], rest[1], rest[2]
    _schedule, rest = _cstring(rest[3:])
    _validity, rest = _cstring(rest)
    _registered, _replace, data_coding, _default_id, sm_length = rest[:5]
    short_message = rest[5:5 + sm_length]
    if data_coding == 0x08:
        text = short_message.decode("utf-16-be")
    elif data_coding == 0x03:
        text = short_message.decode("latin-1")
    else:
        text = "".join(_GSM_BASIC[b] if b < len(_GSM_BASIC) else "?" for b in short_message)
    return ShortMessage(system_id, source, source_ton, destination, dest_ton, data_coding,
                        text)


def _cstring(data: bytes) -> tuple[str, bytes]:
    end = data.index(b"\0")
    return data[:end].decode("ascii"), data[end + 1:]


def _send(conn: socket.socket, command_id: int, status: int, sequence: int,
          body: bytes) -> None:
    conn.sendall(struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body)


def _read_exact(conn: socket.socket, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        try:
            chunk = conn.recv(size - len(chunks))
        except OSError:
            return None
        if not chunk:
            return None
        chunks += chunk
    return chunks
