"""The composition root: what a hoso process is made of, built from its settings in one place.

Every entry point — the web app's factory (web/app.py) and each ``hoso`` command (cli/) —
reads ``Settings`` once and asks this module for its parts: the store, the application (with
its key vault and document store), the read models, the outbox. ``open_parts`` opens them in
order and closes them in the reverse order, whatever happens in between; ``check`` says what
is wrong with the settings before anything is opened. Nothing here decides a rule: it only
wires the layers together (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from config.settings import Settings, SettingsError
from domain.application import HosoApplication
from domain.result_signature import ResultTrust, TrustRootsError
from notify.senders import smtp_sender
from projections.document_store import document_store_for
from projections.key_vault import SqlKeyVault, open_key_vault
from projections.outbox import OutboxView
from projections.phone_digest import PhoneKeyError, check_phone_key_setting
from projections.receipt_key import parse_receipt_key
from projections.runners import ReadModels, open_outbox
from projections.store import Store, StoreConfigError

__all__ = ["Parts", "Settings", "SettingsError", "application_for", "check", "open_parts",
           "store_of"]


def store_of(settings: Settings) -> Store:
    """The store the settings name, with its cipher key; a malformed URL or key raises
    ``SettingsError``."""
    try:
        return Store.from_settings(settings)
    except StoreConfigError as error:
        raise SettingsError(str(error)) from None


def check(settings: Settings) -> Store:
    """The settings whose meaning can be checked without a connection, below the web tier:
    the store's URL and cipher key, the read replica, the phone key, the mail server (the web
    tier's own, proxies and rate limits: ``web.app.check_web_settings``). Raises
    ``SettingsError`` with the first problem; returns the store."""
    store = store_of(settings)
    try:
        Store.read_replica(settings, store)
        check_phone_key_setting(settings.phone_key)
        if settings.receipt_signing_key:
            parse_receipt_key(settings.receipt_signing_key)
        smtp_sender(settings)
        _result_trust(settings)
    except (StoreConfigError, PhoneKeyError, ValueError) as error:
        raise SettingsError(str(error)) from None
    return store


def application_for(store: Store, settings: Settings, *, key_vault: SqlKeyVault | None = None,
                    **options: Any) -> HosoApplication:
    """The application on ``store``: the one place it is built for a process (tests build
    their own around a fixed clock). ``key_vault`` for the commands that sign; ``options``
    (clock, …) pass through."""
    return HosoApplication(env=store.eventsourcing_env(), key_vault=key_vault,
                           document_store=document_store_for(store, settings.documents_dir),
                           result_trust=_result_trust(settings), **options)


def _result_trust(settings: Settings) -> ResultTrust:
    try:
        return ResultTrust.from_file(settings.result_trust_roots)
    except TrustRootsError as error:
        raise SettingsError(f"HOSO_RESULT_TRUST_ROOTS {error}") from None


@dataclass
class Parts:
    """What one process opened: closed by ``open_parts`` in the reverse order."""

    settings: Settings
    store: Store
    application: HosoApplication
    key_vault: SqlKeyVault | None = None
    read_models: ReadModels | None = None
    outbox: OutboxView | None = None

    @property
    def models(self) -> ReadModels:
        assert self.read_models is not None, "opened without read_models=True"
        return self.read_models


@contextmanager
def open_parts(settings: Settings, *, signing: bool = False, read_models: bool = False,
               outbox: bool = False, store: Store | None = None) -> Iterator[Parts]:
    """The store, the key vault (``signing``), the application, the read models and the
    outbox, as asked; closed in the reverse order on the way out."""
    store = store or store_of(settings)
    with ExitStack() as opened:
        vault = open_key_vault(store) if signing else None
        if vault is not None:
            opened.callback(vault.close)
        application = application_for(store, settings, key_vault=vault)
        opened.callback(application.close)
        parts = Parts(settings=settings, store=store, application=application, key_vault=vault)
        if read_models:
            parts.read_models = ReadModels(store, application, settings=settings)
            opened.callback(parts.read_models.close)
        if outbox:
            parts.outbox = open_outbox(store, settings)
            opened.callback(parts.outbox.close)
        yield parts
