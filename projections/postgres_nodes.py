"""The library's PostgreSQL infrastructure, on a store whose URL names several nodes.

``eventsourcing.postgres`` hands libpq a host and a port (comma lists are passed through, and
libpq tries each node in turn) but no ``target_session_attrs``: without it a pool would keep
the first node that answers, the standby included, and every write there would fail. This
factory sets it on the pool it makes before the pool opens, so each new connection (after a
failover: every one) goes to the node that accepts writes now.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

from projections.store import NODE_CONNECT_TIMEOUT


class MultiNodeFactory(PostgresFactory):
    POSTGRES_TARGET_SESSION_ATTRS = "POSTGRES_TARGET_SESSION_ATTRS"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        attrs = self.env.get(self.POSTGRES_TARGET_SESSION_ATTRS)
        pool = self.datastore.pool
        if attrs and isinstance(pool.kwargs, dict):  # the library gives a dict, never None
            pool.kwargs |= {"target_session_attrs": attrs,
                            "connect_timeout": NODE_CONNECT_TIMEOUT}
