"""The per-process TTL cache behind listing totals."""

import time

from shop.cache import TtlCache
from shop.services import catalog


def test_entries_expire_after_their_ttl():
    cache = TtlCache()
    cache.set("a", 1, ttl=0.05)
    assert cache.get("a") == 1
    time.sleep(0.06)
    assert cache.get("a") is None


def test_least_recently_used_entry_is_dropped_first():
    cache = TtlCache(maxsize=2)
    cache.set("a", 1, ttl=60)
    cache.set("b", 2, ttl=60)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.set("c", 3, ttl=60)
    assert cache.get("b") is None
    assert cache.get("a") == 1 and cache.get("c") == 3


def test_listing_total_is_reused_within_the_configured_seconds(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LISTING_COUNT_CACHE_SECONDS", 60)
    catalog._listing_totals.clear()
    try:
        make.event()
        assert client.get("/api/events").get_json()["meta"]["totalItems"] == 1
        make.event()
        body = client.get("/api/events").get_json()
        assert body["meta"]["totalItems"] == 1  # the cached total, up to 60 s old
        assert len(body["data"]) == 2  # the page itself is always current
        assert client.get("/api/events?pageSize=5").get_json()["meta"]["totalItems"] == 1
        assert client.get("/api/events?sort=title").get_json()["meta"]["totalItems"] == 2
    finally:
        catalog._listing_totals.clear()
