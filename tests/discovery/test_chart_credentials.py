"""Chart repository credentials from where helm keeps them: repositories.yaml (`helm repo add --username
--password`) for classic repositories, the registry config.json (`helm registry login`) for OCI ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kargo_actions.discovery.chart import ChartAuthenticationError, ChartWatch, discover_charts
from kargo_actions.discovery.helmconfig import registry_config_path, repository_config_path
from tests.discovery.registry_server import PASSWORD, USER, Seeded
from tests.discovery.test_chart import _push_chart_tags
from tests.support.chart_repo_server import make_index, serve_charts

CHARTS = {"redis": ["1.0.0", "1.2.0"]}


def helm_repositories(path: Path, entries: list[dict[str, str]]) -> None:
    """repositories.yaml as `helm repo add` writes it."""
    lines = ['apiVersion: ""', 'generated: "2026-11-24T00:00:00Z"', "repositories:"]
    for entry in entries:
        lines += [
            '- caFile: ""',
            '  certFile: ""',
            "  insecure_skip_tls_verify: false",
            '  keyFile: ""',
            f"  name: {entry['name']}",
            "  pass_credentials_all: false",
            f"  password: {entry.get('password', '')}",
            f"  url: {entry['url']}",
            f"  username: {entry.get('username', '')}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_helm_config_paths_follow_helm(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert repository_config_path(env) == tmp_path / ".config" / "helm" / "repositories.yaml"
    assert registry_config_path(env) == tmp_path / ".config" / "helm" / "registry" / "config.json"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert repository_config_path(env) == tmp_path / "xdg" / "helm" / "repositories.yaml"
    env["HELM_REPOSITORY_CONFIG"] = str(tmp_path / "r.yaml")
    env["HELM_REGISTRY_CONFIG"] = str(tmp_path / "reg.json")
    assert (repository_config_path(env), registry_config_path(env)) == (
        tmp_path / "r.yaml",
        tmp_path / "reg.json",
    )


def test_classic_repository_behind_basic_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("HELM_REPOSITORY_CONFIG", raising=False)
    files = {"/private/index.yaml": make_index(CHARTS), "/public/index.yaml": make_index(CHARTS)}
    with serve_charts(files) as server, serve_charts(files) as other:
        server.basic["/private/"] = ("chartuser", "chart-pw")
        private = ChartWatch(f"{server.url}/private", "redis")
        (refused,) = discover_charts([private])
        assert isinstance(refused.error, ChartAuthenticationError)
        assert "helm repo add NAME URL --username U --password P" in str(refused.error)

        config = repository_config_path()
        helm_repositories(
            config,
            [
                {"name": "public", "url": f"{other.url}/public"},
                {
                    "name": "private",
                    "url": f"{server.url}/private/",
                    "username": "chartuser",
                    "password": "chart-pw",
                },
            ],
        )
        got, public = discover_charts([private, ChartWatch(f"{other.url}/public", "redis")])
        assert got.error is None
        assert got.versions == ["1.2.0", "1.0.0"]
        assert public.versions == ["1.2.0", "1.0.0"]
        assert all("Authorization" not in h for h in other.request_headers)  # never to another repository

        helm_repositories(
            config,
            [
                {
                    "name": "private",
                    "url": f"{server.url}/private",
                    "username": "chartuser",
                    "password": "wrong",
                }
            ],
        )
        (wrong,) = discover_charts([private])
        assert isinstance(wrong.error, ChartAuthenticationError)


def test_unreadable_helm_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "repositories.yaml"
    config.write_text("repositories: [ {url: \n")
    monkeypatch.setenv("HELM_REPOSITORY_CONFIG", str(config))
    with serve_charts({"/r/index.yaml": make_index(CHARTS)}) as server:
        (result,) = discover_charts([ChartWatch(f"{server.url}/r", "redis")])
    assert isinstance(result.error, ChartAuthenticationError)
    assert "repositories.yaml: cannot read helm's repository config" in str(result.error)


def test_oci_chart_credentials_from_helm_registry_login(
    basic_registry: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _push_chart_tags(basic_registry, "private/helmchart", ["0.3.0"])
    watch = ChartWatch(f"oci://{basic_registry.host}/private/helmchart")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.setenv("HELM_REGISTRY_CONFIG", str(tmp_path / "helm-registry.json"))
    (refused,) = discover_charts([watch])
    assert isinstance(refused.error, ChartAuthenticationError)
    # What `helm registry login HOST -u alice -p s3cret` writes: a docker-style config.json.
    import base64

    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp_path / "helm-registry.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    (found,) = discover_charts([watch])
    assert found.versions == ["0.3.0"]
