"""Bodies and descriptions kept inside GitHub's limits."""

from __future__ import annotations

import pytest

from kargo_actions.github.text import BODY_LIMIT, fit_body, fit_status_description


@pytest.mark.parametrize("size", [0, 10, BODY_LIMIT])
def test_bodies_that_fit_are_unchanged(size: int) -> None:
    text = "a" * size
    assert fit_body(text) == text


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("line\n" * 20_000, ""),
        ("x" * 200_000, "https://example.com/run/1"),
        ("intro\n```diff\n" + "+ added line\n" * 10_000, ""),
    ],
)
def test_long_bodies_are_cut_with_a_note(text: str, url: str) -> None:
    result = fit_body(text, full_text_url=url)
    assert len(result) <= BODY_LIMIT
    assert "characters left out" in result
    assert result.count("```") % 2 == 0  # an open code fence is closed before the note
    assert (f"The full text is at {url}." in result) == bool(url)
    kept = result.split("\n> [!NOTE]")[0]
    assert text.startswith(kept.rstrip("`\n").rstrip("\n"))


def test_small_limit() -> None:
    assert len(fit_body("word " * 100, limit=300)) <= 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [("short", "short"), ("two\nlines", "two lines"), ("y" * 141, "y" * 139 + "…")],
)
def test_status_descriptions(text: str, expected: str) -> None:
    assert fit_status_description(text) == expected
