"""SMS for one-time codes, through the operator's SMPP gateway (SMPP 3.4, with smpplib).

``HOSO_SMPP_URL`` (``smpp://system_id:password@host:port``) names the gateway and
``HOSO_SMPP_SOURCE`` the sender shown on the phone (the registered brand name). Unset, there
is no SMS sender: a citizen who gives a phone number for a one-time code is asked, in words,
for an email address instead (``notify/codes.py``).

One session per message, as for email: codes are few, and a bound session kept open would
have to survive the gateway's idle timeouts. A refusal (bind or submit answered with an
error status), a closed connection or a timeout raises; the code sender turns that into a
"could not send, try again" for the citizen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import smpplib.client
import smpplib.consts
import smpplib.gsm

from config.settings import Settings

log = logging.getLogger(__name__)
# smpplib logs each PDU in hex at debug level: the phone number and the code. Never those.
_CLIENT_LOG = "smpp.hoso"
logging.getLogger(_CLIENT_LOG).setLevel(logging.INFO)
logging.getLogger("smpplib.command").setLevel(logging.INFO)

SMPP_URL_ENV = "HOSO_SMPP_URL"
SMPP_SOURCE_ENV = "HOSO_SMPP_SOURCE"
DEFAULT_PORT = 2775  # IANA's port for SMPP


class GatewayRefused(Exception):
    """The gateway answered a request with an error status."""


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str
    source: str
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, source: str) -> SmppSettings:
        parts = urlsplit(url)
        if parts.scheme != "smpp" or not parts.hostname or not parts.username:
            raise ValueError(f"{SMPP_URL_ENV} must look like smpp://system_id:password@host:2775")
        system_id, password = unquote(parts.username), unquote(parts.password or "")
        # SMPP 3.4 limits: system_id 15 and password 8 octets, ASCII (C-Octet Strings).
        if not (system_id + password).isascii() or len(system_id) > 15 or len(password) > 8:
            raise ValueError(f"{SMPP_URL_ENV}: the system_id (at most 15) and password (at "
                             "most 8) are ASCII")
        if not source or len(source) > 11 or not source.isascii():
            raise ValueError(f"{SMPP_SOURCE_ENV}: the sender is 1–11 ASCII characters")
        return cls(host=parts.hostname, port=parts.port or DEFAULT_PORT, system_id=system_id,
                   password=password, source=source)


def international(phone: str) -> str:
    """A Vietnamese number as the network routes it: 0901234567 → 84901234567."""
    digits = phone.strip().removeprefix("+")
    return "84" + digits[1:] if digits.startswith("0") else digits


class SmppSender:
    def __init__(self, settings: SmppSettings) -> None:
        self.settings = settings

    def send_text(self, phone: str, text: str) -> None:
        s = self.settings
        parts, data_coding, esm_class = smpplib.gsm.make_parts(text)
        client = smpplib.client.Client(s.host, s.port, timeout=s.timeout,
                                       logger_name=_CLIENT_LOG,
                                       allow_unknown_opt_params=True)
        try:
            client.connect()
            client.bind_transmitter(system_id=s.system_id, password=s.password)
            alphanumeric = not s.source.isdigit()
            for part in parts:
                client.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_ALNUM if alphanumeric
                    else smpplib.consts.SMPP_TON_INTL,
                    source_addr_npi=smpplib.consts.SMPP_NPI_UNK if alphanumeric
                    else smpplib.consts.SMPP_NPI_ISDN,
                    source_addr=s.source,
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=international(phone),
                    short_message=part, data_coding=data_coding, esm_class=esm_class,
                    registered_delivery=False)
                answer = client.read_pdu()
                if answer.command != "submit_sm_resp" or answer.is_error():
                    raise GatewayRefused(f"submit_sm answered {answer.command} "
                                         f"status {answer.status}")
            client.unbind()
        finally:
            client.disconnect()


def sms_sender(settings: Settings) -> SmppSender | None:
    """The SMPP sender ``HOSO_SMPP_URL`` describes; None when no gateway is set."""
    if not settings.smpp_url:
        return None
    return SmppSender(SmppSettings.from_url(settings.smpp_url, settings.smpp_source))
