"""load_settings: the Settings manifest alone, validated as load_project validates it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import load_project, load_settings
from tests.manifests.test_corpus import CORPUS, EXPECTED
from tests.manifests.test_loader import write

SETTINGS = """\
apiVersion: kargo-actions/v1alpha1
kind: Settings
metadata:
  name: settings
spec:
  ledgerBranch: deploy/ledger
  signing: required
"""
WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
spec:
  subscriptions:
  - image: {repoURL: ghcr.io/acme/app}
"""


def test_same_settings_as_the_whole_project(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE)
    write(
        tmp_path,
        "nested/s.yaml",
        "---\n" + WAREHOUSE.replace("name: app", "name: other") + "---\n" + SETTINGS,
    )
    settings = load_settings(tmp_path)
    assert settings is not None
    assert settings == load_project(tmp_path).settings
    assert (settings.spec.ledger_branch, settings.spec.signing) == ("deploy/ledger", "required")


def test_other_manifests_are_not_read(tmp_path: Path) -> None:
    write(tmp_path, "s.yaml", SETTINGS)
    write(
        tmp_path,
        "broken.yaml",
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: x}\nspec: 7\n",
    )
    with pytest.raises(InvalidInputError):
        load_project(tmp_path)
    settings = load_settings(tmp_path)  # a broken Stage does not stop a ledger command
    assert settings is not None
    assert settings.spec.ledger_branch == "deploy/ledger"


def test_none_without_a_settings_manifest(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE)
    assert load_settings(tmp_path) is None
    assert load_settings(tmp_path / "missing") is None


@pytest.mark.parametrize("name", ["53-settings-bad-signing.yaml", "54-settings-misspelt-field.yaml"])
def test_bad_settings_get_the_loaders_exact_problems(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CORPUS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError) as caught:
        load_settings(tmp_path)
    assert caught.value.lines() == EXPECTED[name]


def test_two_settings_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", SETTINGS)
    write(tmp_path, "b.yaml", SETTINGS.replace("name: settings", "name: more"))
    with pytest.raises(InvalidInputError, match="a project holds one Settings only"):
        load_settings(tmp_path)
