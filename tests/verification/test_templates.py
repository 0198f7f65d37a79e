"""Templates to an AnalysisRun: includes, ClusterAnalysisTemplates, args merged, secrets from env, providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import load_project
from kargo_actions.verification.templates import plan_analysis

STAGE = """
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {{name: w}}
spec:
  subscriptions:
  - image: {{repoURL: ghcr.io/example/app}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: test}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: w}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: fail
  verification:
    analysisTemplates: {templates}
    args: {args}
"""

TEMPLATES = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: main}
spec:
  templates:
  - templateName: shared
    clusterScope: true
  args:
  - name: host
  - name: threshold
    value: "200"
  - name: token
    valueFrom:
      secretKeyRef: {name: metrics-api, key: token}
  metrics:
  - name: xp
    successCondition: result < {{args.threshold}}
    provider:
      web:
        url: "https://{{ args.host }}/xp"
        headers:
        - {key: Authorization, value: "Bearer {{args.token}}"}
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata: {name: shared}
spec:
  dryRun:
  - metricName: err.*
  metrics:
  - name: errors
    provider:
      prometheus: {address: "http://prom:9090", query: "sum(errors)"}
"""


def project(
    tmp_path: Path,
    templates: str = "[{name: main}]",
    args: str = "[{name: host, value: app.example}]",
    extra: str = TEMPLATES,
):  # type: ignore[no-untyped-def]
    folder = tmp_path / "kargo"
    folder.mkdir(exist_ok=True)
    (folder / "stage.yaml").write_text(STAGE.format(templates=templates, args=args))
    (folder / "analysis.yaml").write_text(extra)
    return load_project(folder)


def test_plan_resolves_includes_args_and_secrets(tmp_path: Path) -> None:
    p = project(tmp_path)
    env = {"KARGO_SECRET_METRICS_API__token": "s3cret"}
    masked: list[str] = []
    plan = plan_analysis(p, p.stages["test"], env, masked.append)
    assert plan.templates == ("shared", "main")
    assert [m.name for m in plan.metrics] == ["errors", "xp"]
    errors, xp = plan.metrics
    assert (errors.dry_run, errors.provider, xp.provider) == (True, "prometheus", "web")
    web = xp.metric.provider.web
    assert web is not None
    assert web.url == "https://app.example/xp"
    assert web.headers[0].value == "Bearer s3cret"
    assert xp.metric.success_condition == "result < 200"
    assert plan.args == {"host": "app.example", "threshold": "200", "token": "s3cret"}
    assert masked == ["s3cret"]
    assert plan.redact("got Bearer s3cret") == "got Bearer *****"
    assert (xp.count, xp.failure_limit, xp.consecutive_error_limit) == (1, 0, 4)


def test_stage_args_override_template_defaults(tmp_path: Path) -> None:
    p = project(
        tmp_path, args="[{name: host, value: h}, {name: threshold, value: '50'}, {name: unused, value: x}]"
    )
    plan = plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_API": '{"token": "t"}'})
    assert plan.metrics[1].metric.success_condition == "result < 50"
    assert "unused" not in plan.args  # Argo's MergeArgs ignores args no template declares


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ("[{name: host, value: h}]", {}, "KARGO_SECRET_METRICS_API__token"),
    ],
)
def test_missing_args_and_secrets_name_the_stage_and_the_fix(
    tmp_path: Path, args: str, env: dict[str, str], message: str
) -> None:
    p = project(tmp_path, args=args)
    with pytest.raises(InvalidInputError) as caught:
        plan_analysis(p, p.stages["test"], env)
    assert message in str(caught.value)
    assert "Stage test" in str(caught.value)


def test_a_required_arg_the_stage_does_not_pass_is_refused_when_manifests_load(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="AnalysisTemplate 'main' needs argument 'host'"):
        project(tmp_path, args="[]")


def test_unknown_tag_and_unsupported_provider(tmp_path: Path) -> None:
    bad = TEMPLATES.replace("{{args.threshold}}", "{{args.nope}}")
    p = project(tmp_path, extra=bad)
    with pytest.raises(InvalidInputError, match=r"failed to resolve \{\{args.nope\}\}"):
        plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_API__token": "t"})
    job = TEMPLATES.replace(
        'prometheus: {address: "http://prom:9090", query: "sum(errors)"}', "job: {spec: {}}"
    )
    p = project(tmp_path, extra=job)
    with pytest.raises(
        InvalidInputError, match=r"metric 'errors' uses provider job.*supported: web, prometheus"
    ):
        plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_API__token": "t"})


def test_argo_metric_validation(tmp_path: Path) -> None:
    bad = TEMPLATES.replace("  - name: xp\n", "  - name: xp\n    count: 3\n    failureLimit: 5\n")
    p = project(tmp_path, extra=bad)
    with pytest.raises(InvalidInputError) as caught:
        plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_API__token": "t"})
    text = str(caught.value)
    assert "count (3) must be >= failureLimit + consecutiveSuccessLimit (5 + 0)" in text
    assert "interval must be specified when count > 1" in text


def test_an_unsupported_provider_is_refused_when_manifests_load(tmp_path: Path) -> None:
    datadog = TEMPLATES.replace(
        """      web:
        url: "https://{{ args.host }}/xp"
        headers:
        - {key: Authorization, value: "Bearer {{args.token}}"}""",
        "      datadog: {query: 'avg:errors{*}'}",
    )
    with pytest.raises(InvalidInputError) as caught:
        project(tmp_path, extra=datadog)
    text = str(caught.value)
    assert "stage.yaml:" in text
    assert "AnalysisTemplate main: metric 'xp' uses provider datadog, which kargo-actions cannot run" in text
    assert "supported: web, prometheus, plugin kargo-actions/github-checks" in text


def test_a_metric_an_arg_makes_invalid_is_reported_in_the_loaders_words(tmp_path: Path) -> None:
    bad = TEMPLATES.replace('url: "https://{{ args.host }}/xp"', 'url: "{{ args.host }}"')
    p = project(tmp_path, args="[{name: host, value: ''}]", extra=bad)
    with pytest.raises(InvalidInputError) as caught:
        plan_analysis(p, p.stages["test"], {"KARGO_SECRET_METRICS_API__token": "t"})
    assert str(caught.value) == (
        "main: metric xp: after substituting args: must not be empty at provider.web.url"
    )
