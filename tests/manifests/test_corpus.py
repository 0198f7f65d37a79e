"""The malformed-manifest corpus: every file yields exactly the problems listed in corpus/expected.txt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import load_project

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.glob("*.yaml"))


def _expected() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for line in (CORPUS / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            table.setdefault(line.split(":", 1)[0], []).append(line)
    return table


EXPECTED = _expected()


def test_corpus_is_large_and_fully_described() -> None:
    assert len(CASES) >= 40
    assert sorted(EXPECTED) == CASES, "every corpus file needs expected lines, and no line may be stale"


@pytest.mark.parametrize("name", CASES)
def test_malformed_manifest_reports_exact_problems(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CORPUS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError) as caught:
        load_project(tmp_path, strict=True)
    assert caught.value.lines() == EXPECTED[name]


def test_corpus_all_at_once_reports_every_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Files with references between documents report differently when mixed, so take the single-kind ones.
    names = [n for n in CASES if int(n[:2]) <= 38]
    for name in names:
        shutil.copy(CORPUS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError) as caught:
        load_project(tmp_path, strict=True)
    reported = caught.value.lines()
    for name in names:
        for line in EXPECTED[name]:
            assert line in reported
