"""helm-update-chart: config table, then Chart.yaml files updated in place (comments and layout kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.helm_update_chart import HelmUpdateChart, HelmUpdateChartConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context, freight

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "chart"}, []),
    ({"path": "chart", "charts": [{"repository": "https://r", "name": "n", "version": "1.0.0"}]}, []),
    ({"path": "chart", "charts": []}, ["config.charts: must have at least 1 item"]),
    (
        {"path": "chart", "charts": [{"repository": "https://r", "name": "n"}]},
        ["config.charts[0].version: required field is missing"],
    ),
    (
        {"path": "chart", "charts": [{"repository": "", "name": "n", "version": "1"}]},
        ["config.charts[0].repository: must not be empty"],
    ),
    (
        {"charts": [{"repository": "r", "name": "n", "version": "1", "alias": "a"}]},
        [
            "config.path: required field is missing",
            "config.charts[0].alias: unknown field (known fields: name, repository, version)",
        ],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(HelmUpdateChartConfig, data) == expected


CHART = """\
apiVersion: v2
name: umbrella   # the app of apps
version: 0.1.0
dependencies:
- name: redis
  repository: https://charts.example.com/stable
  version: 17.0.0   # bumped by Kargo
- name: backend
  repository: oci://ghcr.io/acme/charts
  version: "1.0"
  condition: backend.enabled
"""


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    (tmp_path / "umbrella").mkdir()
    (tmp_path / "umbrella/Chart.yaml").write_text(CHART)
    return tmp_path


def test_explicit_charts(chart: Path) -> None:
    result = HelmUpdateChart().run(
        context(chart),
        HelmUpdateChartConfig.model_validate(
            {
                "path": "umbrella",
                "charts": [
                    {"repository": "https://charts.example.com/stable", "name": "redis", "version": "17.3.1"},
                    {"repository": "oci://ghcr.io/acme/charts", "name": "backend", "version": "1.1"},
                ],
            }
        ),
    )
    assert (chart / "umbrella/Chart.yaml").read_text() == CHART.replace("17.0.0", "17.3.1").replace(
        '"1.0"', '"1.1"'
    )
    assert result.outputs == {
        "commitMessage": "Updated chart dependencies for umbrella\n\n- redis: 17.0.0 -> 17.3.1\n- backend: 1.0 -> 1.1"
    }


def test_versions_from_the_freight(chart: Path) -> None:
    collection = [
        freight(
            "f1",
            charts=[
                {"repoURL": "https://charts.example.com/stable", "name": "redis", "version": "18.0.0"},
                {"repoURL": "oci://ghcr.io/acme/charts/backend", "version": "2.0.0"},
                {"repoURL": "https://other.example.com", "name": "unused", "version": "9.9.9"},
            ],
        )
    ]
    result = HelmUpdateChart().run(context(chart, freight=collection), HelmUpdateChartConfig(path="umbrella"))
    text = (chart / "umbrella/Chart.yaml").read_text()
    assert text == CHART.replace("17.0.0", "18.0.0").replace('"1.0"', '"2.0.0"')
    assert result.outputs["commitMessage"].splitlines()[2:] == [
        "- redis: 17.0.0 -> 18.0.0",
        "- backend: 1.0 -> 2.0.0",
    ]


def test_unchanged_versions_have_no_message(chart: Path) -> None:
    result = HelmUpdateChart().run(
        context(chart),
        HelmUpdateChartConfig.model_validate(
            {
                "path": "umbrella",
                "charts": [
                    {"repository": "https://charts.example.com/stable", "name": "redis", "version": "17.0.0"}
                ],
            }
        ),
    )
    assert result.outputs == {}
    assert (chart / "umbrella/Chart.yaml").read_text() == CHART


@pytest.mark.parametrize(
    ("config", "collection", "message"),
    [
        (
            {"charts": [{"repository": "https://charts.example.com", "name": "redis", "version": "1"}]},
            [],
            "charts[0]: no dependency named 'redis' from 'https://charts.example.com' in umbrella/Chart.yaml "
            "(repository and name must match Chart.yaml exactly)",
        ),
        (
            {},
            [freight("f", images=[{"repoURL": "nginx", "tag": "1"}])],
            "charts: none given and no dependency in Chart.yaml matches a chart of the Freight; "
            "list the charts to update",
        ),
    ],
)
def test_refusals(chart: Path, config: dict[str, Any], collection: list[Any], message: str) -> None:
    with pytest.raises(TerminalStepError) as err:
        HelmUpdateChart().run(
            context(chart, freight=collection),
            HelmUpdateChartConfig.model_validate({"path": "umbrella", **config}),
        )
    assert str(err.value) == message
    assert (chart / "umbrella/Chart.yaml").read_text() == CHART
