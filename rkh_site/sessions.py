"""Sessions kept in the database with a Redis copy in front, that outlive a Redis outage.

Django's ``cached_db`` sessions already read the database when the cache fails, but then
write the session back to the cache without catching its error: with Redis away every
signed-in request answered 500. Here every cache step is best effort (logged), so the
database, the sessions' source of truth, is enough to stay signed in.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import cached_db

from utilities.infrastructure import REDIS_ERRORS

log = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    def load(self):
        try:
            return super().load()
        except REDIS_ERRORS:
            log.warning("Session cache unavailable; reading the session from the database")
            s = self._get_session_from_db()
            return self.decode(s.session_data) if s else {}

    def exists(self, session_key):
        try:
            return super().exists(session_key)
        except REDIS_ERRORS:
            return cached_db.DBStore.exists(self, session_key)

    def delete(self, session_key=None):
        try:
            super().delete(session_key)
        except REDIS_ERRORS:
            # The row is gone; the cached copy expires by itself (and is never read alone).
            log.warning("Session cache unavailable; cached copy left to expire")
