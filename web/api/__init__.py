"""The partner API, version 1: JSON over HTTP for other organisations' systems (the post
office, the national public-service portal, another department's system).

``PREFIX`` is all the rest of ``web`` needs to know: requests under it are answered in JSON
(errors included) and authenticate with a bearer key instead of a session.
"""

from __future__ import annotations

PREFIX = "/api/v1"


def is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")
