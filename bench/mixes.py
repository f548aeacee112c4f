"""URL mixes for the read-path benchmarks: many distinct URLs, as real visitors send them.

One URL measured over and over says how fast a cache hit is, not how fast the catalogue is. These
mixes draw thousands of different listing, search and detail URLs (a fixed random seed, so every
run asks for the same ones) and wrk cycles through them, each thread from its own starting point.

- browse: a random page 1–200 of the whole catalogue in one of the five sorts, or the first pages
  of a category, a city, a price range, or a search term, sometimes combined.
- search: one or two words a visitor might type (whole or partial), page 1.
- detail: event ids drawn from the published and cancelled events (drafts are 404 to the public).
"""

from __future__ import annotations

import random
import re
from urllib.parse import urlencode

from shop.seed import ACTS, CATEGORIES, THEMES, TITLES, VENUES

SORTS = ["startsAt", "-startsAt", "price", "-price", "title"]
CITIES = sorted({city for _, _, city in VENUES})
PRICES = ["100", "200", "300", "500"]
MIX_SIZE = 20_000


def search_words() -> list[str]:
    """Words that occur in the seeded catalogue (titles, acts, themes, cities, categories)."""
    text = " ".join(
        [*ACTS, *THEMES, *CITIES, *(name for _, name in CATEGORIES)]
        + [template for templates in TITLES.values() for template in templates]
    )
    words = {word.lower() for word in re.findall(r"[^\W\d_]{3,}", text) if word not in {"a", "b"}}
    return sorted(words)


def search_term(rng: random.Random, words: list[str]) -> str:
    """One or two words; now and then the last one only partly typed ("cop" for copenhagen)."""
    chosen = rng.sample(words, rng.choice([1, 1, 2]))
    if rng.random() < 0.3 and len(chosen[-1]) > 4:
        chosen[-1] = chosen[-1][: rng.randint(3, len(chosen[-1]) - 1)]
    return " ".join(chosen)


def browse_paths(size: int = MIX_SIZE, seed: int = 12) -> list[str]:
    rng = random.Random(seed)
    words = search_words()
    paths = []
    for _ in range(size):
        roll = rng.random()
        query: dict[str, str | int] = {}
        if roll < 0.45:  # the whole catalogue, any page of the first 200
            query["page"] = rng.randint(1, 200)
        else:  # narrowed: the first few pages are what people look at
            if roll < 0.6:
                query["category"] = rng.choice(CATEGORIES)[0]
            elif roll < 0.72:
                query["city"] = rng.choice(CITIES)
            elif roll < 0.8:
                query["category"] = rng.choice(CATEGORIES)[0]
                query["city"] = rng.choice(CITIES)
            elif roll < 0.86:
                query["minPrice"] = rng.choice(PRICES[:2])
                query["maxPrice"] = rng.choice(PRICES[2:])
            else:
                query["q"] = search_term(rng, words)
            query["page"] = rng.randint(1, 5)
        if rng.random() < 0.5:
            query["sort"] = rng.choice(SORTS)
        paths.append("/api/events?" + urlencode(query))
    return paths


def search_paths(size: int = MIX_SIZE, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    words = search_words()
    return ["/api/events?" + urlencode({"q": search_term(rng, words)}) for _ in range(size)]


def detail_paths(event_ids: list[int], size: int = MIX_SIZE, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    return [f"/api/events/{rng.choice(event_ids)}" for _ in range(size)]


def public_event_ids(conn) -> list[int]:
    """Ids the public can see (psycopg connection to the bench database)."""
    return [row[0] for row in conn.execute("SELECT id FROM event WHERE status <> 'draft'")]


def wrk_paths_script(paths: list[str]) -> str:
    """Lua for wrk: cycle through `paths`, each thread from its own starting point."""
    listed = ",\n".join(
        '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"' for path in paths
    )
    return f"""
local paths = {{
{listed}
}}
local threads_started = 0
setup = function(thread)
  threads_started = threads_started + 1
  thread:set("start", threads_started * 7919)
end
local next_index = 1
init = function(args)
  next_index = start % #paths
end
request = function()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end
"""
