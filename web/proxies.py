"""Whom to believe about the client's address: ``X-Forwarded-For`` and ``X-Forwarded-Proto``
are taken only from the proxies named in ``HOSO_TRUSTED_PROXIES`` — none by default.

Per-address limits (public lookups, sign-in failures) count the client's address. uvicorn's
own default trusts those headers from 127.0.0.1, so any local client — or one behind a proxy
on the same machine that passes the header on — could name a new address on every request:
2,000 token guesses met no limit, and an address locked out of sign-in came back under
another name. Here the app itself decides (the same middleware, uvicorn's, applied by
``create_app`` with the named proxies only), and ``hoso serve`` turns uvicorn's off.
"""

from __future__ import annotations

import ipaddress

TRUSTED_PROXIES_ENV = "HOSO_TRUSTED_PROXIES"


class ProxySettingError(ValueError):
    pass


def parse_trusted_proxies(text: str) -> list[str]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``, ``::1``), separated by commas or
    spaces. Nothing else: uvicorn would take a misspelt address as a name matching nothing,
    silently, and a ``*`` would let every client name its own address."""
    proxies: list[str] = []
    for item in text.replace(",", " ").split():
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ProxySettingError(
                f"{TRUSTED_PROXIES_ENV}: {item!r} is not an IP address or network; name the "
                "proxies in front of hoso (e.g. 127.0.0.1 or 10.0.0.0/24), or leave it unset "
                "when clients reach hoso directly") from None
        proxies.append(str(network) if network.num_addresses > 1 else str(network.network_address))
    return proxies

