"""Every ``HOSO_*`` setting, read once, typed: the one place the process environment is read.

A process reads its settings when it starts (``Settings.from_environment()``: the web app's
factory, each CLI command) and hands the values to the parts that need them through
``bootstrap`` (bootstrap/__init__.py); no other module reads ``os.environ``
(tests/test_code_quality.py). A value that cannot be read stops the process at start with
the setting's name and what it expects, never half-way through a request.

This module imports nothing of hoso's, so every layer may receive a ``Settings``; what a
value *means* (a store URL, a proxy list, a rate-limit storage) is checked by the part that
uses it, when bootstrap builds that part.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///var/hoso.sqlite3"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MIN_SAMPLE = 20
OFF_WORDS = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting that cannot be read; the message names it and says what it expects."""


def _text(value: str) -> str:
    return value.strip()


def _optional_text(value: str) -> str | None:
    return value.strip() or None


def _optional_path(value: str) -> Path | None:
    return Path(value.strip()) if value.strip() else None


def _switch(value: str) -> bool:
    return value.strip().lower() not in OFF_WORDS


def _on_when_one(value: str) -> bool:
    return value.strip() == "1"


def _number(minimum: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value)
        if number < minimum:
            raise ValueError
        return number
    parse.__doc__ = f"a number of seconds, at least {minimum:g}"
    return parse


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise ValueError
        return number
    parse.__doc__ = f"a whole number, at least {minimum}"
    return parse


def _env(name: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    """A field's environment name and how its text is read."""
    return {"env": name, "parse": parse}


@dataclass(frozen=True)
class Settings:
    """What docs/settings.md describes, one field a setting (defaults as documented there)."""

    # The store
    database_url: str = field(
        default=DEFAULT_DATABASE_URL, metadata=_env("HOSO_DATABASE_URL", _text))
    read_database_url: str | None = field(
        default=None, metadata=_env("HOSO_READ_DATABASE_URL", _optional_text))
    follow: bool = field(default=True, metadata=_env("HOSO_FOLLOW", _switch))
    serving_role: str | None = field(
        default=None, metadata=_env("HOSO_SERVING_ROLE", _optional_text))
    # Keys and what rests encrypted
    cipher_key: str | None = field(default=None, metadata=_env("HOSO_CIPHER_KEY", _optional_text))
    phone_key: str | None = field(default=None, metadata=_env("HOSO_PHONE_KEY", _optional_text))
    phone_key_file: Path | None = field(
        default=None, metadata=_env("HOSO_PHONE_KEY_FILE", _optional_path))
    documents_dir: Path | None = field(
        default=None, metadata=_env("HOSO_DOCUMENTS_DIR", _optional_path))
    result_trust_roots: Path | None = field(
        default=None, metadata=_env("HOSO_RESULT_TRUST_ROOTS", _optional_path))
    receipt_signing_key: str | None = field(
        default=None, metadata=_env("HOSO_RECEIPT_SIGNING_KEY", _optional_text))
    # The transparency log
    log_signing_key: str | None = field(
        default=None, metadata=_env("HOSO_LOG_SIGNING_KEY", _optional_text))
    log_origin: str | None = field(default=None, metadata=_env("HOSO_LOG_ORIGIN", _optional_text))
    log_salt: str | None = field(default=None, metadata=_env("HOSO_LOG_SALT", _optional_text))
    witnesses: str = field(default="", metadata=_env("HOSO_WITNESSES", _text))
    witness_key: str | None = field(
        default=None, metadata=_env("HOSO_WITNESS_KEY", _optional_text))
    checkpoint_seconds: float = field(
        default=300.0, metadata=_env("HOSO_CHECKPOINT_SECONDS", _number(0.001)))
    # Citizens' messages
    public_url: str = field(default=DEFAULT_PUBLIC_URL, metadata=_env("HOSO_PUBLIC_URL", _text))
    smtp_url: str | None = field(default=None, metadata=_env("HOSO_SMTP_URL", _optional_text))
    mail_from: str = field(default="hoso@localhost", metadata=_env("HOSO_MAIL_FROM", _text))
    smpp_url: str | None = field(default=None, metadata=_env("HOSO_SMPP_URL", _optional_text))
    smpp_source: str = field(default="hoso", metadata=_env("HOSO_SMPP_SOURCE", _text))
    delivery_seconds: float = field(
        default=5.0, metadata=_env("HOSO_DELIVERY_SECONDS", _number(0.001)))
    # Online payment (VNPay): offered only when all three are set
    vnpay_tmn_code: str | None = field(
        default=None, metadata=_env("HOSO_VNPAY_TMN_CODE", _optional_text))
    vnpay_hash_secret: str | None = field(
        default=None, metadata=_env("HOSO_VNPAY_HASH_SECRET", _optional_text))
    vnpay_payment_url: str | None = field(
        default=None, metadata=_env("HOSO_VNPAY_PAYMENT_URL", _optional_text))
    # The web server
    public_rate_limit: str = field(default="60/60", metadata=_env("HOSO_PUBLIC_RATE_LIMIT", _text))
    api_rate_limit: str = field(default="600/60", metadata=_env("HOSO_API_RATE_LIMIT", _text))
    rate_limit_storage: str = field(
        default="memory://", metadata=_env("HOSO_RATE_LIMIT_STORAGE", _text))
    rate_limit_namespace: str = field(
        default="hoso", metadata=_env("HOSO_RATE_LIMIT_NAMESPACE", _text))
    trusted_proxies: str = field(default="", metadata=_env("HOSO_TRUSTED_PROXIES", _text))
    request_deadline: float = field(
        default=8.0, metadata=_env("HOSO_REQUEST_DEADLINE", _number(0.001)))
    template_reload: bool = field(
        default=False, metadata=_env("HOSO_TEMPLATE_RELOAD", _on_when_one))
    # Analytics and red flags
    analytics_max_age: float = field(
        default=60.0, metadata=_env("HOSO_ANALYTICS_MAX_AGE", _number(0)))
    min_sample: int = field(
        default=DEFAULT_MIN_SAMPLE, metadata=_env("HOSO_MIN_SAMPLE", _whole(1)))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``environ`` (the process's environment by default); an empty
        value counts as unset."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name, parse = spec.metadata["env"], spec.metadata["parse"]
            text = source.get(name, "")
            if not text.strip():
                continue
            try:
                values[spec.name] = parse(text)
            except ValueError:
                expected = (parse.__doc__ or "").strip() or "another value"
                raise SettingsError(f"{name}={text!r}: expected {expected}") from None
        return cls(**values)

    def but(self, **changes: Any) -> Settings:
        """These settings with some changed (the CLI's flags, tests)."""
        return replace(self, **changes)


def setting_names() -> dict[str, str]:
    """Each setting's environment name → its field (docs/settings.md is checked against it)."""
    return {spec.metadata["env"]: spec.name for spec in fields(Settings)}
