"""Keep personal data and secrets out of the logs.

hoso's own log lines name staff ids, units and paths, never a citizen. Two things would still
reach a log through the web server: query strings (the counter's search box takes a name, a
phone or an id number: ``/counter?q=…``) and the citizen's tracking token in the public
page's path (``/t/<token>``, and the API's ``/api/v1/status/<token>``: whoever reads the log
could open the page). Every line, the web server's access lines included, passes this filter
on its way to any handler.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

# A tracking token is 22+ URL-safe characters after /t/ or the API's /status/ (128 bits);
# anything after the first "?" is a query string.
_TOKEN_PATH = re.compile(r"(/t/|/api/v1/status/)[A-Za-z0-9_-]+")
_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    return _QUERY.sub("?…", _TOKEN_PATH.sub(r"\1…", text))


class RedactPersonalData(logging.Filter):
    """Rewrites the message (with its arguments) so no handler ever sees the original."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """On the handlers of the root logger (``hoso`` commands use basicConfig)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactPersonalData) for f in handler.filters):
            handler.addFilter(RedactPersonalData())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging setup with the filter on both of its handlers. Passed to
    ``uvicorn.run``, so each worker process sets it up the same way."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "web.log_privacy.RedactPersonalData"}}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    # hoso's own lines too, in every worker process (not only where the command started).
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
