"""Human-friendly Freight aliases: a unique "adjective-animal" pair from the project's own word lists."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Collection
from importlib import resources

ALIAS_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ALIAS_MAX_LENGTH = 63  # a Kubernetes label value, as Kargo stores the alias in a label
_RANDOM_TRIES = 64


@functools.cache
def _words(name: str) -> tuple[str, ...]:
    text = resources.files("kargo_actions.freight").joinpath("words", f"{name}.txt").read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def adjectives() -> tuple[str, ...]:
    return _words("adjectives")


def animals() -> tuple[str, ...]:
    return _words("animals")


def combinations() -> int:
    """How many distinct adjective-animal aliases exist before numbered ones are needed."""
    return len(adjectives()) * len(animals())


def generate_alias(taken: Collection[str] = (), rng: random.Random | None = None) -> str:
    """A random adjective-animal alias not in `taken`; deterministic for a seeded `rng`.

    Random picks first; when the space is nearly full, a scan from a random start; when every pair is
    taken, a numbered pair (`brave-otter-2`) so generation never fails.
    """
    rng = rng or random.Random()  # noqa: S311 - aliases are names, not secrets
    adj, ani = adjectives(), animals()
    for _ in range(_RANDOM_TRIES):
        alias = f"{rng.choice(adj)}-{rng.choice(ani)}"
        if alias not in taken:
            return alias
    total = len(adj) * len(ani)
    start = rng.randrange(total)
    for offset in range(total):
        i = (start + offset) % total
        alias = f"{adj[i // len(ani)]}-{ani[i % len(ani)]}"
        if alias not in taken:
            return alias
    base = f"{rng.choice(adj)}-{rng.choice(ani)}"
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def check_alias(alias: str) -> str | None:
    """Why `alias` cannot be used (a message), or None when it is fine."""
    if not alias:
        return "an alias cannot be empty"
    if len(alias) > ALIAS_MAX_LENGTH:
        return f"an alias is at most {ALIAS_MAX_LENGTH} characters, got {len(alias)}"
    if not ALIAS_PATTERN.match(alias):
        return "an alias uses lowercase letters, digits and '-', and starts and ends with a letter or digit"
    return None
