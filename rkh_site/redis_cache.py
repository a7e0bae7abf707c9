"""Django's Redis cache, keeping one ``redis.Redis`` per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every cache call, and
redis-py fills some 170 response callbacks into a fresh dictionary each time: about a tenth
of a millisecond, twice per API request (the throttle and the API-key generation token), a
few percent of an order's detail (issue 14). A ``redis.Redis`` is safe to share between threads
(each command takes a connection from the pool), so one per pool is kept and reused.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
