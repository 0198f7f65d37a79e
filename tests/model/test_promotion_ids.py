"""Promotion and verification run IDs: ULIDs exactly as python-ulid writes them, increasing within a process."""

from __future__ import annotations

import random
import threading
import time

import pytest
from ulid import ULID

from kargo_actions.model import promotion
from kargo_actions.model.promotion import encode_ulid, new_ulid, promotion_name


@pytest.mark.parametrize(
    ("millis", "randomness"),
    [
        (0, 0),
        ((1 << 48) - 1, (1 << 80) - 1),
        (1_796_409_787_660, 1),
        (1_796_409_787_660, 1 << 79),
        *(
            (random.Random(seed).randrange(1 << 48), random.Random(-seed).randrange(1 << 80))
            for seed in range(20)
        ),
    ],
)
def test_encoding_is_python_ulids(millis: int, randomness: int) -> None:
    raw = millis.to_bytes(6, "big") + randomness.to_bytes(10, "big")
    assert encode_ulid(millis, randomness) == str(ULID.from_bytes(raw))


def test_a_new_ulid_carries_the_time_and_sorts_after_the_one_before() -> None:
    before = time.time()
    made = [new_ulid() for _ in range(2000)]
    after = time.time()
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    parsed = ULID.from_str(made[0])
    assert before - 0.002 <= parsed.timestamp <= after
    assert str(parsed) == made[0]
    assert promotion_name("dev", made[0], "abcdef0123").split(".")[1] == made[0].lower()


def test_same_millisecond_increments_the_random_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promotion.time, "time_ns", lambda: 1_796_409_787_660_123_456)
    first, second = new_ulid(), new_ulid()
    one, two = ULID.from_str(first), ULID.from_str(second)
    assert one.milliseconds == two.milliseconds == 1_796_409_787_660
    assert int(two) == int(one) + 1


def test_threads_never_get_the_same_ulid() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend(new_ulid() for _ in range(500))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == len(made) == 2000


def test_exhausted_millisecond_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promotion.time, "time_ns", lambda: 5_000_000)
    monkeypatch.setattr(promotion, "_last_ulid", [5, (1 << 80) - 1])
    with pytest.raises(ValueError, match="exhausted"):
        new_ulid()
