"""One misspelt field is one error: a manifest that fails to load is not reported again as missing by every
manifest that names it, and a misspelt required field is not also reported as missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.manifests.test_loader import WAREHOUSE, problems_of, write


def stage(name: str, sources: str, spec_extra: str = "", steps_key: str = "steps") -> str:
    return f"""\
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: {name}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: guestbook}}
    sources: {sources}
  promotionTemplate:
    spec:
      {steps_key}:
      - uses: compose-output
        config: {{a: b}}
{spec_extra}"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / ".kargo"
    write(folder, "warehouse.yaml", WAREHOUSE)
    return folder


def test_a_misspelt_stage_is_not_missing_for_the_stages_naming_it(config: Path) -> None:
    write(config, "test.yaml", stage("test", "{direct: true}", steps_key="stepz"))
    write(config, "uat.yaml", stage("uat", "{stages: [test]}"))
    write(config, "prod.yaml", stage("prod", "{stages: [test, uat]}"))
    assert problems_of(config) == [
        ".kargo/test.yaml:11:7: spec.promotionTemplate.spec.stepz: unknown field (did you mean 'steps'?)"
    ]


def test_a_stage_that_truly_does_not_exist_is_still_reported(config: Path) -> None:
    write(config, "test.yaml", stage("test", "{direct: true}", steps_key="stepz"))
    write(config, "uat.yaml", stage("uat", "{stages: [tset]}"))
    assert problems_of(config) == [
        ".kargo/test.yaml:11:7: spec.promotionTemplate.spec.stepz: unknown field (did you mean 'steps'?)",
        ".kargo/uat.yaml:8:24: spec.requestedFreight[0].sources.stages[0]: Stage 'tset' does not exist",
    ]


def test_a_misspelt_warehouse_and_template_are_one_error_each(config: Path) -> None:
    write(config, "warehouse.yaml", WAREHOUSE.replace("  subscriptions:", "  subscriptons:"))
    verification = "  verification:\n    analysisTemplates:\n    - name: smoke\n"
    write(config, "test.yaml", stage("test", "{direct: true}", verification))
    write(
        config,
        "smoke.yaml",
        """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
spec:
  metricz: []
""",
    )
    assert problems_of(config) == [
        ".kargo/smoke.yaml:6:3: spec.metricz: unknown field (did you mean 'metrics'?)",
        ".kargo/warehouse.yaml:6:3: spec.subscriptons: unknown field (did you mean 'subscriptions'?)",
    ]
