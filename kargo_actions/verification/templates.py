"""From a Stage's verification to the metrics one AnalysisRun measures: templates, args, secrets, `{{args.x}}`.

As Argo Rollouts builds an AnalysisRun from templates (utils/analysis/factory.go): the Stage's templates and
the templates they include (`spec.templates`) are flattened into one list of metrics (names must be unique),
their args merged (the same arg in two templates must not have two different values), the Stage's
verification.args then override the templates' defaults (an arg no template declares is ignored, as Argo's
MergeArgs does), and every arg must end with a value. `valueFrom.secretKeyRef {name, key}` reads the
environment variable `KARGO_SECRET_<NAME>__<KEY>` (or key KEY of the JSON object in `KARGO_SECRET_<NAME>`),
the naming `secret()` uses in promotion expressions; the value is masked in GitHub Actions logs and replaced
by `*****` in measurement messages. `{{args.x}}` is substituted in every string of every metric
(templateutil.ResolveQuotedArgs); an unknown `{{...}}` is an error, as in Argo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from pydantic import ValidationError

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.analysis import (
    AnalysisTemplate,
    AnalysisTemplateSpec,
    Argument,
    Authentication,
    ClusterAnalysisTemplate,
    Metric,
    PrometheusRangeQuery,
)
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.messages import dotted, field_problems
from kargo_actions.model.project import Project
from kargo_actions.model.stage import Stage
from kargo_actions.struct import struct

GITHUB_CHECKS_PLUGIN = "kargo-actions/github-checks"
SUPPORTED_PROVIDERS = ("web", "prometheus", f"plugin {GITHUB_CHECKS_PLUGIN}")
_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)

Template = AnalysisTemplate | ClusterAnalysisTemplate


@struct
class RunMetric:
    """One metric as the run measures it: args substituted, limits as integers, durations in seconds."""

    metric: Metric
    template: str
    provider: str  # web, prometheus, github-checks
    interval: float | None
    initial_delay: float
    count: int | None  # Argo's EffectiveCount: None = until the run ends
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int
    consecutive_success_limit: int
    dry_run: bool = False

    @property
    def name(self) -> str:
        return self.metric.name


@struct
class AnalysisPlan:
    """Everything one AnalysisRun needs: its metrics, the resolved args, the secret values to redact."""

    stage: str
    templates: tuple[str, ...]
    metrics: tuple[RunMetric, ...]
    args: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "*****")
        return text


def provider_kind(metric: Metric) -> str | None:
    """The runner's provider for a metric (web, prometheus, github-checks), None when it has none here."""
    provider = metric.provider
    if provider.web is not None:
        return "web"
    if provider.prometheus is not None:
        return "prometheus"
    if provider.plugin is not None and list(provider.plugin) == [GITHUB_CHECKS_PLUGIN]:
        return "github-checks"
    return None


@struct
class ConfigProblem:
    """A provider setting this runner refuses: where under `provider`, what, and how to fix it."""

    path: str
    message: str
    hint: str = ""


def _templated(text: str) -> bool:
    return "{{" in text  # checked again once args are substituted


def _auth_problems(kind: str, auth: Authentication | None) -> list[ConfigProblem]:
    if auth is None:
        return []
    where = f"{kind}.authentication"
    out: list[ConfigProblem] = []
    sigv4 = auth.sigv4
    if sigv4 is not None and (sigv4.region or sigv4.profile or sigv4.role_arn):
        out.append(
            ConfigProblem(
                f"{where}.sigv4",
                "AWS SigV4 signing (Amazon Managed Prometheus) is not supported by kargo-actions",
                "query it through a signing proxy (e.g. aws-sigv4-proxy) as the address, or use oauth2 / "
                "basicAuth",
            )
        )
    basic = auth.basic_auth
    if basic is not None and (basic.username or basic.password):
        if kind == "web":
            out.append(
                ConfigProblem(
                    f"{where}.basicAuth",
                    "the web provider takes no basicAuth (Argo Rollouts' web metric ignores it)",
                    "send a header instead: {key: Authorization, value: 'Basic {{args.credentials}}'}, "
                    "or use oauth2",
                )
            )
        else:
            for name in ("username", "password"):
                if not getattr(basic, name):
                    out.append(
                        ConfigProblem(
                            f"{where}.basicAuth.{name}",
                            f"missing mandatory parameter in metric for basic auth setup: {name}",
                        )
                    )
    oauth = auth.oauth2
    if oauth is not None and (oauth.token_url or oauth.client_id or oauth.client_secret or oauth.scopes):
        for name, value in (
            ("tokenUrl", oauth.token_url),
            ("clientId", oauth.client_id),
            ("clientSecret", oauth.client_secret),
        ):
            if not value:
                out.append(
                    ConfigProblem(
                        f"{where}.oauth2.{name}",
                        f"missing mandatory parameter in metric for OAuth2 setup: {name}",
                        "oauth2 needs tokenUrl, clientId and clientSecret (from a secret arg: "
                        "clientSecret: '{{args.secret}}')"
                        if name == "clientSecret"
                        else "oauth2 needs tokenUrl, clientId and clientSecret",
                    )
                )
        url = oauth.token_url or ""
        if url and not _templated(url) and not url.startswith(("http://", "https://")):
            out.append(ConfigProblem(f"{where}.oauth2.tokenUrl", f"{url!r} is not an http(s) URL"))
    return out


def _range_problems(query: PrometheusRangeQuery | None) -> list[ConfigProblem]:
    if query is None:
        return []
    where = "prometheus.rangeQuery"
    out: list[ConfigProblem] = []
    for name in ("start", "end"):
        text = getattr(query, name) or ""
        if not text:
            out.append(
                ConfigProblem(
                    f"{where}.{name}",
                    f"rangeQuery needs {name}",
                    f'an expr-lang time, e.g. {name}: now() - duration("5m")'
                    if name == "start"
                    else f"an expr-lang time, e.g. {name}: now()",
                )
            )
        elif not _templated(text):
            from kargo_actions.expressions import ExpressionError, compile_expression

            try:
                compile_expression(text)
            except ExpressionError as err:
                out.append(ConfigProblem(f"{where}.{name}", f"cannot parse {text!r}: {err.message}"))
    step = query.step or ""
    if not step:
        out.append(ConfigProblem(f"{where}.step", "rangeQuery needs step", "a Go duration, e.g. step: 1m"))
    elif not _templated(step):
        try:
            positive = parse_go_duration(step).total_seconds() > 0
        except ValueError as err:
            out.append(ConfigProblem(f"{where}.step", str(err)))
        else:
            if not positive:
                out.append(ConfigProblem(f"{where}.step", f"step {step!r} must be more than 0"))
    return out


def config_problems(metric: Metric) -> list[ConfigProblem]:
    """The web / prometheus settings this runner refuses (rangeQuery and authentication are checked here)."""
    web, prom = metric.provider.web, metric.provider.prometheus
    if web is not None:
        return _auth_problems("web", web.authentication)
    if prom is not None:
        return _auth_problems("prometheus", prom.authentication) + _range_problems(prom.range_query)
    return []


def auth_secrets(metric: Metric) -> list[str]:
    """The credentials in a metric's authentication (masked and redacted like secret args)."""
    provider = metric.provider.web or metric.provider.prometheus
    auth = provider.authentication if provider is not None else None
    if auth is None:
        return []
    found = [
        auth.oauth2.client_secret if auth.oauth2 else None,
        auth.basic_auth.password if auth.basic_auth else None,
    ]
    return [value for value in found if value]


def provider_problems(template: Template) -> list[Problem]:
    """A problem per metric whose provider this runner cannot run (checked when manifests load)."""
    problems: list[Problem] = []
    for i, metric in enumerate(template.spec.metrics):
        for found in config_problems(metric):
            problems.append(
                Problem(
                    path=f"spec.metrics[{i}].provider.{found.path}",
                    message=f"{template.kind} {template.name}: metric {metric.name!r}: {found.message}",
                    hint=found.hint,
                )
            )
        if provider_kind(metric) is None:
            kinds = metric.provider.kinds
            shown = kinds[0] if kinds else "none"
            if shown == "plugin" and metric.provider.plugin:
                shown = f"plugin {', '.join(sorted(metric.provider.plugin))}"
            problems.append(
                Problem(
                    path=f"spec.metrics[{i}].provider",
                    message=f"{template.kind} {template.name}: metric {metric.name!r} uses provider {shown}, "
                    "which kargo-actions cannot run",
                    hint=f"supported: {', '.join(SUPPORTED_PROVIDERS)}",
                )
            )
    return problems


def _where(stage: Stage) -> str:
    return f"Stage {stage.name}: spec.verification"


def _lookup(project: Project, stage: Stage, name: str, cluster: bool) -> Template:
    pool: Mapping[str, Template] = (
        project.cluster_analysis_templates if cluster else project.analysis_templates
    )
    kind = "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate"
    found = pool.get(name)
    if found is None:
        known = ", ".join(sorted(pool)) or "none"
        raise InvalidInputError(
            [Problem(path=_where(stage), message=f"{kind} {name!r} does not exist", hint=f"{kind}s: {known}")]
        )
    return found


def _expand(project: Project, stage: Stage, template: Template, seen: tuple[str, ...]) -> list[Template]:
    """The template and, depth first, every template it includes through spec.templates."""
    key = f"{template.kind}/{template.name}"
    if key in seen:
        raise InvalidInputError(
            [
                Problem(
                    path=_where(stage), message=f"templates include each other: {' -> '.join((*seen, key))}"
                )
            ]
        )
    out: list[Template] = []
    for ref in template.spec.templates:
        if not ref.template_name:
            continue
        included = _lookup(project, stage, ref.template_name, ref.cluster_scope)
        out.extend(_expand(project, stage, included, (*seen, key)))
    out.append(template)
    return out


def _flatten(
    stage: Stage, templates: list[Template]
) -> tuple[list[tuple[str, Metric]], list[Argument], set[str]]:
    metrics: list[tuple[str, Metric]] = []
    args: list[Argument] = []
    dry: set[str] = set()
    names: dict[str, str] = {}
    problems: list[Problem] = []
    for template in templates:
        spec: AnalysisTemplateSpec = template.spec
        for metric in spec.metrics:
            if metric.name in names:
                problems.append(
                    Problem(
                        path=_where(stage),
                        message=f"metric {metric.name!r} is in both {names[metric.name]} and {template.name}",
                        hint="metric names must be unique across the templates of one verification",
                    )
                )
                continue
            names[metric.name] = template.name
            metrics.append((template.name, metric))
        for arg in spec.args:
            prior = next((i for i, a in enumerate(args) if a.name == arg.name), None)
            if prior is None:
                args.append(arg)
            elif arg.value is not None and args[prior].value is not None and arg.value != args[prior].value:
                problems.append(
                    Problem(
                        path=_where(stage),
                        message=f"argument {arg.name!r} has two different default values in the templates",
                    )
                )
            elif args[prior].value is None and args[prior].value_from is None:
                args[prior] = arg
        dry.update(d.metric_name for d in spec.dry_run)
    if problems:
        raise InvalidInputError(problems)
    return metrics, args, dry


def _resolve_args(
    stage: Stage, declared: list[Argument], env: Mapping[str, str], mask: Callable[[str], None] | None
) -> tuple[dict[str, str], list[str]]:
    from kargo_actions.expressions import secrets_from_environment
    from kargo_actions.expressions.errors import EvalFailure

    verification = stage.spec.verification
    passed = {a.name: a.value for a in verification.args} if verification is not None else {}
    values: dict[str, str] = {}
    secrets: list[str] = []
    problems: list[Problem] = []
    provide = secrets_from_environment(env)
    for arg in declared:
        if arg.name in passed:
            values[arg.name] = passed[arg.name]
            continue
        if arg.value is not None:
            values[arg.name] = arg.value
            continue
        ref = arg.value_from
        if ref is not None and ref.secret_key_ref is not None:
            secret = ref.secret_key_ref
            stem = "KARGO_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", secret.name).upper()
            try:
                data = provide(secret.name)
            except EvalFailure as err:
                problems.append(Problem(path=_where(stage), message=f"argument {arg.name!r}: {err}"))
                continue
            if secret.key not in data:
                problems.append(
                    Problem(
                        path=_where(stage),
                        message=f"argument {arg.name!r} reads secret {secret.name!r} key {secret.key!r}, "
                        "which the environment does not hold",
                        hint=f"set {stem}__{secret.key} (or {stem} to a JSON object with key {secret.key!r}), "
                        "e.g. from a GitHub secret in the workflow's env",
                    )
                )
                continue
            values[arg.name] = data[secret.key]
            secrets.append(data[secret.key])
            if mask is not None:
                mask(data[secret.key])
            continue
        if ref is not None and ref.field_ref is not None:
            problems.append(
                Problem(
                    path=_where(stage),
                    message=f"argument {arg.name!r} uses valueFrom.fieldRef ({ref.field_ref.field_path}), "
                    "which reads a Rollout's fields: there is no Rollout here",
                    hint=f"pass it in spec.verification.args: {{name: {arg.name}, value: ...}}",
                )
            )
            continue
        problems.append(
            Problem(
                path=_where(stage) + ".args",
                message=f"Stage {stage.name} does not pass argument {arg.name!r}, which its analysis "
                "templates require",
                hint=f"add {{name: {arg.name}, value: ...}} to spec.verification.args",
            )
        )
    if problems:
        raise InvalidInputError(problems)
    return values, secrets


def substitute(value: Any, args: Mapping[str, str], where: str) -> Any:
    """`{{args.x}}` replaced in every string of a JSON-like value; an unknown tag is an InvalidInputError."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            tag = match.group(1).strip()
            if tag.startswith("args.") and tag[5:] in args:
                return args[tag[5:]]
            raise InvalidInputError(
                [
                    Problem(
                        path=where,
                        message=f"failed to resolve {{{{{match.group(1)}}}}}",
                        hint="known: " + (", ".join(f"args.{k}" for k in sorted(args)) or "no args"),
                    )
                ]
            )

        return _TAG.sub(replace, value)
    if isinstance(value, list):
        return [substitute(v, args, where) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, args, where) for k, v in value.items()}
    return value


def _int(value: int | str | None, default: int, name: str, where: str) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInputError(
            [Problem(path=f"{where}.{name}", message=f"{value!r} is not an integer")]
        ) from None


def _seconds(value: str | None, name: str, where: str) -> float | None:
    if not value:
        return None
    try:
        return parse_go_duration(value).total_seconds()
    except ValueError as err:
        raise InvalidInputError([Problem(path=f"{where}.{name}", message=str(err))]) from None


def run_metric(template: str, metric: Metric, dry_run: bool, where: str) -> RunMetric:
    """A metric's limits and schedule, checked as Argo Rollouts' ValidateMetric does."""
    kind = provider_kind(metric)
    if kind is None:
        kinds = ", ".join(metric.provider.kinds)
        raise InvalidInputError(
            [
                Problem(
                    path=where,
                    message=f"metric {metric.name!r} uses provider {kinds}, which kargo-actions cannot run",
                    hint=f"supported: {', '.join(SUPPORTED_PROVIDERS)}",
                )
            ]
        )
    count = _int(metric.count, 0, "count", where)
    failure_limit = _int(metric.failure_limit, 0, "failureLimit", where)
    inconclusive_limit = _int(metric.inconclusive_limit, 0, "inconclusiveLimit", where)
    error_limit = _int(metric.consecutive_error_limit, 4, "consecutiveErrorLimit", where)
    success_limit = _int(metric.consecutive_success_limit, 0, "consecutiveSuccessLimit", where)
    interval = _seconds(metric.interval, "interval", where)
    delay = _seconds(metric.initial_delay, "initialDelay", where) or 0.0
    rules = [
        (success_limit < 0, "consecutiveSuccessLimit must be >= 0"),
        (failure_limit < -1, "failureLimit must be >= 0, or -1 to be disabled"),
        (
            success_limit == 0 and failure_limit == -1,
            "failureLimit and consecutiveSuccessLimit cannot both be disabled",
        ),
        (inconclusive_limit < 0, "inconclusiveLimit must be >= 0"),
        (error_limit < 0, "consecutiveErrorLimit must be >= 0"),
        (
            count > 0 and failure_limit >= 0 and count < failure_limit + success_limit,
            f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit ({failure_limit} + {success_limit})",
        ),
        (
            count > 0 and failure_limit < 0 and count < success_limit,
            "count must be >= consecutiveSuccessLimit",
        ),
        (count > 0 and count < inconclusive_limit, "count must be >= inconclusiveLimit"),
        (count > 1 and interval is None, "interval must be specified when count > 1"),
    ]
    problems = [Problem(path=where, message=f"metric {metric.name!r}: {msg}") for bad, msg in rules if bad]
    problems += [
        Problem(
            path=f"{where}: provider.{c.path}", message=f"metric {metric.name!r}: {c.message}", hint=c.hint
        )
        for c in config_problems(metric)
    ]
    if problems:
        raise InvalidInputError(problems)
    effective = count if count > 0 else (1 if interval is None else None)
    return RunMetric(
        metric=metric,
        template=template,
        provider=kind,
        interval=interval,
        initial_delay=delay,
        count=effective,
        failure_limit=failure_limit,
        inconclusive_limit=inconclusive_limit,
        consecutive_error_limit=error_limit,
        consecutive_success_limit=success_limit,
        dry_run=dry_run,
    )


def _dry_run(names: set[str], metric: str) -> bool:
    # Argo's dryRun metricName is a regular expression matched against the whole name ("*" = every metric).
    for pattern in names:
        if pattern == "*" or pattern == metric:
            return True
        try:
            if re.fullmatch(pattern, metric):
                return True
        except re.error:
            continue
    return False


def plan_analysis(
    project: Project,
    stage: Stage,
    env: Mapping[str, str] | None = None,
    mask: Callable[[str], None] | None = None,
) -> AnalysisPlan:
    """The AnalysisRun of a Stage's verification; InvalidInputError naming the Stage for every problem."""
    verification = stage.spec.verification
    if verification is None or not verification.analysis_templates:
        raise InvalidInputError(
            [Problem(path=f"Stage {stage.name}", message="defines no verification (spec.verification)")]
        )
    source = os.environ if env is None else env
    templates: list[Template] = []
    for ref in verification.analysis_templates:
        top = _lookup(project, stage, ref.name, ref.kind == "ClusterAnalysisTemplate")
        for item in _expand(project, stage, top, ()):
            if all(t is not item for t in templates):
                templates.append(item)
    metrics, declared, dry = _flatten(stage, templates)
    args, secrets = _resolve_args(stage, declared, source, mask)
    run: list[RunMetric] = []
    for template, metric in metrics:
        where = f"{template}: metric {metric.name}"
        raw = substitute(metric.model_dump(by_alias=True, exclude_none=True, mode="json"), args, where)
        try:
            resolved = Metric.model_validate(raw)
        except ValidationError as err:
            raise InvalidInputError(
                [
                    Problem(
                        path=where,
                        message=f"after substituting args: {p.message} at {dotted(p.loc)}",
                        hint=p.hint,
                    )
                    for p in field_problems(err, Metric)
                ]
            ) from err
        run.append(run_metric(template, resolved, _dry_run(dry, metric.name), where))
        for credential in auth_secrets(resolved):  # a secret written in the template is still a secret
            if credential not in secrets:
                secrets.append(credential)
                if mask is not None:
                    mask(credential)
    return AnalysisPlan(
        stage=stage.name,
        templates=tuple(t.name for t in templates),
        metrics=tuple(run),
        args=args,
        secrets=tuple(secrets),
    )
