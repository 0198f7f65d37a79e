"""Whatever bytes a manifest file holds, loading ends in a Project or an InvalidInputError, never a crash."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.manifests import load_project

CORPUS = Path(__file__).parent / "corpus"
ODD_DOCUMENTS = [
    b"\xef\xbb\xbfapiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",  # byte order mark
    b"apiVersion: v1\r\nkind: Namespace\r\nmetadata: {name: a}\r\n",  # CRLF
    b"---\n...\n",
    b"%YAML 1.1\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    b"a: &x [*x]\n",  # a recursive alias
    b"? [a, b]\n: c\n",  # a key that is a list
    b"metadata: null\nkind: Stage\napiVersion: kargo.akuity.io/v1alpha1\n",
    b"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: a}\nspec: null\n",
    b"apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata: {name: a}\nspec: {subscriptions: [null]}\n",
    b"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: a, 5: b}\n",
    b"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: !!binary aGVsbG8=}\n",
    b"x: !custom 1\n",
    b"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: .inf}\n",
    b"\x00\x01\x02",
]


def _mutations(count: int) -> list[bytes]:
    """Deterministic random edits of the corpus: deleted runs, inserted YAML punctuation, spliced text."""
    sources = [p.read_bytes() for p in sorted(CORPUS.glob("*.yaml"))]
    rng = random.Random(20261124)
    cases: list[bytes] = []
    for _ in range(count):
        text = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(text)) if text else 0
            roll = rng.random()
            if roll < 0.4 and text:
                del text[pos : pos + rng.randint(1, 8)]
            elif roll < 0.8:
                text[pos:pos] = bytes([rng.choice(b" \t:-[]{}\n#&*!|>'\"?,%@`a1")])
            else:
                text[pos:pos] = rng.choice(sources)[: rng.randint(0, 40)]
        cases.append(bytes(text))
    return cases


def _problems(folder: Path) -> list[Problem] | None:
    """None when the folder loads; else the problems (any other exception fails the test)."""
    try:
        load_project(folder)
    except InvalidInputError as err:
        return list(err.problems)
    return None


@pytest.mark.parametrize("content", ODD_DOCUMENTS)
def test_odd_documents_never_crash(content: bytes, tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_bytes(content)
    problems = _problems(tmp_path)
    assert problems is None or (problems and all(p.message for p in problems))


def test_random_edits_never_crash(tmp_path: Path) -> None:
    outcomes = {"loaded": 0, "refused": 0}
    for i, content in enumerate(_mutations(300)):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "x.yaml").write_bytes(content)
        problems = _problems(folder)
        if problems is None:
            outcomes["loaded"] += 1
        else:
            assert problems, content
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100  # the edits do break things, and every break was reported
