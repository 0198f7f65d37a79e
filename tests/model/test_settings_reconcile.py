"""The Settings fields of waiting promotions: reconcileInterval, promotionLease, githubApp."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kargo_actions.model.settings import GitHubApp, SettingsSpec

CASES: list[tuple[dict[str, Any], str]] = [
    ({"reconcileInterval": "5m", "promotionLease": "1m"}, ""),
    ({"reconcileInterval": "1h30m", "promotionLease": "90s"}, ""),
    ({"reconcileInterval": "4m59s"}, "'4m59s' is shorter than 5m"),
    ({"reconcileInterval": "-1h"}, "is shorter than 5m"),
    ({"reconcileInterval": "15 minutes"}, "invalid duration '15 minutes'"),
    ({"reconcileInterval": 900}, "Input should be a valid string"),
    ({"promotionLease": "59s"}, "'59s' is shorter than 1m"),
    ({"promotionLease": "0"}, "'0' is shorter than 1m"),
    ({"githubApp": {}}, ""),
    ({"githubApp": {"appIdVariable": "APP_ID", "privateKeySecret": "APP_KEY", "owner": "acme"}}, ""),
    ({"githubApp": {"repositories": ["config", "gitops.repo"]}}, ""),
    ({"githubApp": {"appIdVariable": "GITHUB_APP_ID"}}, "is not an Actions variable or secret name"),
    ({"githubApp": {"privateKeySecret": "1KEY"}}, "is not an Actions variable or secret name"),
    ({"githubApp": {"privateKeySecret": "APP-KEY"}}, "is not an Actions variable or secret name"),
    ({"githubApp": {"owner": "-acme"}}, "is not a GitHub user or organization login"),
    ({"githubApp": {"repositories": ["acme/config"]}}, "is not a repository name"),
    ({"githubApp": {"appId": "1"}}, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("spec", "problem"), CASES)
def test_reconcile_settings(spec: dict[str, Any], problem: str) -> None:
    if not problem:
        SettingsSpec.model_validate(spec)
        return
    with pytest.raises(ValidationError, match=problem):
        SettingsSpec.model_validate(spec)


def test_defaults() -> None:
    spec = SettingsSpec()
    assert (spec.reconcile_interval, spec.promotion_lease, spec.github_app) == ("15m", "10m", None)
    assert spec.promotion_lease_duration == timedelta(minutes=10)
    assert spec.reconcile_interval_duration == timedelta(minutes=15)
    app = SettingsSpec.model_validate({"githubApp": {}}).github_app
    assert app == GitHubApp(app_id_variable="KARGO_APP_ID", private_key_secret="KARGO_APP_PRIVATE_KEY")


def test_loaded_from_the_config_dir(tmp_path: Path) -> None:
    from kargo_actions.errors import InvalidInputError
    from kargo_actions.manifests import load_settings

    (tmp_path / "settings.yaml").write_text(
        "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: settings\n"
        "spec:\n  promotionLease: 2m\n  githubApp:\n    appIdVariable: RELEASE_APP_ID\n"
    )
    settings = load_settings(tmp_path)
    assert settings is not None
    assert settings.spec.promotion_lease_duration == timedelta(minutes=2)
    assert settings.spec.github_app is not None
    assert settings.spec.github_app.app_id_variable == "RELEASE_APP_ID"
    (tmp_path / "settings.yaml").write_text(
        "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: settings\n"
        "spec:\n  reconcileInterval: 1m\n"
    )
    with pytest.raises(InvalidInputError) as err:
        load_settings(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'settings.yaml'}:6:3: spec.reconcileInterval: '1m' is shorter than 5m, "
        "GitHub's shortest schedule (e.g. 15m)"
    )
