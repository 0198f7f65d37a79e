from __future__ import annotations

import random

import pytest

from kargo_actions.freight.alias import (
    adjectives,
    animals,
    check_alias,
    combinations,
    generate_alias,
)


def test_word_lists_give_over_twenty_thousand_unique_aliases() -> None:
    assert len(set(adjectives())) == len(adjectives())
    assert len(set(animals())) == len(animals())
    assert combinations() >= 20_000
    for word in (*adjectives(), *animals()):
        assert check_alias(word) is None, word


def test_seeded_generation_is_deterministic() -> None:
    first = [generate_alias(rng=random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    assert (
        generate_alias(rng=random.Random(8)) != first[0] or generate_alias(rng=random.Random(9)) != first[0]
    )


def test_generated_aliases_are_unique_against_taken() -> None:
    rng = random.Random(1)
    taken: set[str] = set()
    for _ in range(2000):
        alias = generate_alias(taken, rng)
        assert alias not in taken
        assert check_alias(alias) is None
        adj, _, animal = alias.partition("-")
        assert adj in adjectives()
        assert animal in animals()
        taken.add(alias)
    assert len(taken) == 2000


def test_nearly_full_space_still_finds_the_free_pair() -> None:
    every = {f"{a}-{b}" for a in adjectives() for b in animals()}
    free = "brave-otter"
    alias = generate_alias(every - {free}, random.Random(3))
    assert alias == free


def test_full_space_falls_back_to_numbered_alias() -> None:
    every = {f"{a}-{b}" for a in adjectives() for b in animals()}
    alias = generate_alias(every, random.Random(3))
    assert alias.endswith("-2")
    assert alias.removesuffix("-2") in every


@pytest.mark.parametrize(
    ("alias", "problem"),
    [
        ("", "cannot be empty"),
        ("Brave-Otter", "lowercase"),
        ("-otter", "starts and ends"),
        ("otter-", "starts and ends"),
        ("a" * 64, "at most 63"),
        ("brave_otter", "lowercase"),
    ],
)
def test_bad_aliases_are_refused(alias: str, problem: str) -> None:
    message = check_alias(alias)
    assert message is not None
    assert problem in message
