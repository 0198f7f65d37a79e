"""The models against the real contract: Kargo's CRD schemas and subscription JSON Schemas.

The API server applies a CRD's `default:` values before validating, and (with strict field validation, as
kubectl applies by default) refuses unknown fields; the helpers here do the same with jsonschema.
What the CRD rejects, the loader must reject too; what it accepts, the loader must accept.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import MODELS, load_project
from tests.conftest import shared_path

CRD_FILES = {
    "Project": "kargo/crds/kargo.akuity.io_projects.yaml",
    "ProjectConfig": "kargo/crds/kargo.akuity.io_projectconfigs.yaml",
    "Warehouse": "kargo/crds/kargo.akuity.io_warehouses.yaml",
    "Stage": "kargo/crds/kargo.akuity.io_stages.yaml",
    "PromotionTask": "kargo/crds/kargo.akuity.io_promotiontasks.yaml",
    "ClusterPromotionTask": "kargo/crds/kargo.akuity.io_clusterpromotiontasks.yaml",
    "AnalysisTemplate": "argo-rollouts/analysis-template-crd.yaml",
}
SUBSCRIPTION_KINDS = ("image", "git", "chart")

Json = dict[str, Any]


def _strict(schema: Any) -> Any:
    """Strict field validation: an object schema with properties refuses other keys."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def crd_schema(kind: str) -> Json:
    crd = YAML(typ="safe").load(shared_path("specs", CRD_FILES[kind]).read_text())
    schema: Json = _strict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    return schema


@functools.cache
def subscription_schema(kind: str) -> Json:
    schema: Json = json.loads(
        shared_path("specs", "kargo", "subscription-schemas", f"{kind}.json").read_text()
    )
    return schema


def apply_defaults(schema: Json, value: Any) -> Any:
    """Fill in `default:` values the way the API server does, before validation."""
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        for name, sub in schema["properties"].items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v) for v in value]
    return value


# RFC 3339 date-time, checked here because jsonschema checks that format only with an optional package.
FORMATS = jsonschema.FormatChecker()
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or _RFC3339.match(value) is not None


def schema_errors(schema: Json, value: Any, draft: type[Any] = jsonschema.Draft7Validator) -> list[str]:
    instance = apply_defaults(schema, copy.deepcopy(value))
    validator = draft(schema, format_checker=FORMATS)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def contract_errors(manifest: Json) -> list[str]:
    """Errors Kargo's API server would report: the CRD, plus the subscription schemas for Warehouses."""
    kind = "AnalysisTemplate" if manifest["kind"] == "ClusterAnalysisTemplate" else manifest["kind"]
    errors = schema_errors(crd_schema(kind), manifest)
    if kind == "Warehouse":
        for i, sub in enumerate(manifest.get("spec", {}).get("subscriptions") or []):
            for sub_kind in SUBSCRIPTION_KINDS:
                if isinstance(sub, dict) and sub_kind in sub:
                    found = schema_errors(
                        subscription_schema(sub_kind), sub[sub_kind], jsonschema.Draft202012Validator
                    )
                    errors += [f"spec.subscriptions.{i}.{sub_kind}.{e}" for e in found]
    return errors


def example_manifests() -> list[tuple[str, Json]]:
    found: list[tuple[str, Json]] = []
    for path in sorted(shared_path("kargo-examples").glob("*/kargo/*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in CRD_FILES:
                found.append(
                    (f"{path.parent.parent.name}/{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
                )
    return found


def test_the_examples_hold_every_main_kind() -> None:
    kinds = {doc["kind"] for _, doc in example_manifests()}
    assert kinds >= {"Project", "Warehouse", "Stage", "PromotionTask", "AnalysisTemplate"}


def test_every_example_manifest_passes_the_crds() -> None:
    for label, doc in example_manifests():
        assert contract_errors(doc) == [], label


@pytest.mark.parametrize("example", ["kargo-advanced", "kargo-simple", "kargo-quickstart-template"])
def test_loaded_models_write_back_what_the_crds_accept(example: str) -> None:
    project = load_project(shared_path("kargo-examples", example, "kargo"))
    resources: list[Any] = [
        *project.warehouses.values(),
        *project.stages.values(),
        *project.promotion_tasks.values(),
        *project.analysis_templates.values(),
    ]
    if project.resource is not None:
        resources.append(project.resource)
    for resource in resources:
        assert contract_errors(resource.manifest()) == [], resource.name
    for warehouse in project.warehouses.values():
        # With every default filled in, the subscriptions still satisfy the subscription schemas.
        for sub in warehouse.wire()["spec"]["subscriptions"]:  # type: ignore[index]
            for sub_kind, body in sub.items():
                schema = subscription_schema(sub_kind)
                assert schema_errors(schema, body, jsonschema.Draft202012Validator) == []


WAREHOUSE: Json = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Warehouse",
    "metadata": {"name": "guestbook"},
    "spec": {
        "subscriptions": [
            {"image": {"repoURL": "ghcr.io/akuity/guestbook"}},
            {"git": {"repoURL": "https://github.com/akuity/guestbook.git"}},
            {"chart": {"repoURL": "https://charts.example.com", "name": "nginx"}},
        ]
    },
}
STAGE: Json = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "test"},
    "spec": {
        "requestedFreight": [
            {"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"direct": True}}
        ],
        "promotionTemplate": {"spec": {"steps": [{"uses": "git-clone", "config": {"repoURL": "x"}}]}},
        "verification": {"analysisTemplates": [{"name": "smoke"}], "args": [{"name": "a", "value": "b"}]},
    },
}
TASK: Json = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "PromotionTask",
    "metadata": {"name": "promote"},
    "spec": {"vars": [{"name": "repoURL", "value": "x"}], "steps": [{"uses": "git-clone"}]},
}
CONFIG: Json = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "ProjectConfig",
    "metadata": {"name": "demo"},
    "spec": {"promotionPolicies": [{"stage": "test", "autoPromotionEnabled": True}]},
}
ANALYSIS: Json = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "smoke"},
    "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]},
}
BASES = {"Warehouse": WAREHOUSE, "Stage": STAGE, "PromotionTask": TASK, "ProjectConfig": CONFIG}
BASES["AnalysisTemplate"] = ANALYSIS

Mutation = Callable[[Json], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting a dotted path (numbers index lists); value ... deletes the key."""

    def mutate(doc: Json) -> None:
        parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = doc
        for part in parts[:-1]:
            target = target[part]
        if value is ...:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value

    return mutate


IMG = "spec.subscriptions.0.image"
GIT = "spec.subscriptions.1.git"
CHART = "spec.subscriptions.2.chart"
STEP = "spec.promotionTemplate.spec.steps.0"
SRC = "spec.requestedFreight.0.sources"

# (kind, what is wrong, mutation): the CRD or subscription schema rejects each of these.
INVALID: list[tuple[str, str, Mutation]] = [
    ("Warehouse", "interval with day unit", _set("spec.interval", "1d")),
    ("Warehouse", "interval not a duration", _set("spec.interval", "soon")),
    ("Warehouse", "bad freightCreationPolicy", _set("spec.freightCreationPolicy", "Sometimes")),
    ("Warehouse", "no subscriptions", _set("spec.subscriptions", [])),
    ("Warehouse", "subscriptions missing", _set("spec.subscriptions", ...)),
    ("Warehouse", "spec missing", _set("spec", ...)),
    ("Warehouse", "unknown spec field", _set("spec.pollInterval", "5m")),
    ("Warehouse", "image repoURL with tag", _set(f"{IMG}.repoURL", "ghcr.io/akuity/guestbook:v1")),
    ("Warehouse", "image repoURL with scheme", _set(f"{IMG}.repoURL", "https://ghcr.io/akuity/guestbook")),
    ("Warehouse", "image repoURL empty", _set(f"{IMG}.repoURL", "")),
    ("Warehouse", "image repoURL missing", _set(f"{IMG}.repoURL", ...)),
    ("Warehouse", "image strategy unknown", _set(f"{IMG}.imageSelectionStrategy", "Newest")),
    ("Warehouse", "image discoveryLimit 0", _set(f"{IMG}.discoveryLimit", 0)),
    ("Warehouse", "image discoveryLimit 101", _set(f"{IMG}.discoveryLimit", 101)),
    ("Warehouse", "image discoveryLimit text", _set(f"{IMG}.discoveryLimit", "20")),
    ("Warehouse", "image platform without arch", _set(f"{IMG}.platform", "linux")),
    ("Warehouse", "image strictSemvers text", _set(f"{IMG}.strictSemvers", "true")),
    ("Warehouse", "image semverConstraint removed", _set(f"{IMG}.semverConstraint", "^1.0.0")),
    ("Warehouse", "image unknown field", _set(f"{IMG}.tagRegex", "^v")),
    ("Warehouse", "image allowTagsRegexes not a list", _set(f"{IMG}.allowTagsRegexes", "^v")),
    ("Warehouse", "git repoURL without scheme", _set(f"{GIT}.repoURL", "github.com/akuity/guestbook")),
    ("Warehouse", "git strategy unknown", _set(f"{GIT}.commitSelectionStrategy", "Newest")),
    ("Warehouse", "git branch ends with slash", _set(f"{GIT}.branch", "main/")),
    ("Warehouse", "git branch empty", _set(f"{GIT}.branch", "")),
    ("Warehouse", "git discoveryLimit 0", _set(f"{GIT}.discoveryLimit", 0)),
    ("Warehouse", "git since not a date", _set(f"{GIT}.since", "yesterday")),
    ("Warehouse", "git includePaths not a list", _set(f"{GIT}.includePaths", "apps/")),
    ("Warehouse", "git unknown field", _set(f"{GIT}.paths", ["apps/"])),
    ("Warehouse", "chart repoURL ftp", _set(f"{CHART}.repoURL", "ftp://charts.example.com")),
    ("Warehouse", "chart discoveryLimit 101", _set(f"{CHART}.discoveryLimit", 101)),
    ("Warehouse", "chart unknown field", _set(f"{CHART}.version", "1.0.0")),
    ("Stage", "requestedFreight missing", _set("spec.requestedFreight", ...)),
    ("Stage", "requestedFreight empty", _set("spec.requestedFreight", [])),
    ("Stage", "origin kind Stage", _set("spec.requestedFreight.0.origin.kind", "Stage")),
    ("Stage", "origin name missing", _set("spec.requestedFreight.0.origin.name", ...)),
    ("Stage", "origin kind missing", _set("spec.requestedFreight.0.origin.kind", ...)),
    ("Stage", "sources missing", _set(SRC, ...)),
    ("Stage", "availabilityStrategy unknown", _set(f"{SRC}.availabilityStrategy", "Some")),
    ("Stage", "requiredSoakTime in days", _set(f"{SRC}.requiredSoakTime", "1d")),
    ("Stage", "selectionPolicy unknown", _set(f"{SRC}.autoPromotionOptions", {"selectionPolicy": "Oldest"})),
    ("Stage", "direct as text", _set(f"{SRC}.direct", "true")),
    ("Stage", "no steps", _set("spec.promotionTemplate.spec.steps", [])),
    ("Stage", "promotionTemplate without spec", _set("spec.promotionTemplate", {})),
    ("Stage", "step var name with dash", _set(f"{STEP}.vars", [{"name": "my-var", "value": "x"}])),
    ("Stage", "step var without name", _set(f"{STEP}.vars", [{"value": "x"}])),
    ("Stage", "stage var value a number", _set("spec.vars", [{"name": "n", "value": 3}])),
    ("Stage", "task name not RFC 1123", _set(STEP, {"task": {"name": "Promote_Task"}})),
    ("Stage", "task kind unknown", _set(STEP, {"task": {"name": "promote", "kind": "Task"}})),
    ("Stage", "step uses empty", _set(f"{STEP}.uses", "")),
    ("Stage", "step unknown field", _set(f"{STEP}.timeout", "5m")),
    ("Stage", "retry errorThreshold text", _set(f"{STEP}.retry", {"errorThreshold": "3"})),
    ("Stage", "continueOnError text", _set(f"{STEP}.continueOnError", "yes")),
    ("Stage", "verification template kind", _set("spec.verification.analysisTemplates.0.kind", "Rollout")),
    ("Stage", "verification arg without value", _set("spec.verification.args", [{"name": "a"}])),
    ("Stage", "unknown spec field", _set("spec.autoPromote", True)),
    ("PromotionTask", "spec missing", _set("spec", ...)),
    ("PromotionTask", "steps missing", _set("spec.steps", ...)),
    ("PromotionTask", "steps empty", _set("spec.steps", [])),
    ("PromotionTask", "var name starting with digit", _set("spec.vars.0.name", "1url")),
    ("ProjectConfig", "policy stage not RFC 1123", _set("spec.promotionPolicies.0.stage", "Test")),
    (
        "ProjectConfig",
        "autoPromotionEnabled text",
        _set("spec.promotionPolicies.0.autoPromotionEnabled", "on"),
    ),
    ("AnalysisTemplate", "metric without provider", _set("spec.metrics.0.provider", ...)),
    ("AnalysisTemplate", "metric without name", _set("spec.metrics.0.name", ...)),
    ("AnalysisTemplate", "arg without name", _set("spec.args", [{"value": "x"}])),
    ("AnalysisTemplate", "web provider without url", _set("spec.metrics.0.provider.web", {"method": "GET"})),
    ("AnalysisTemplate", "count a list", _set("spec.metrics.0.count", [1])),
]

# (kind, what, mutation): the CRD accepts each of these, so the loader must as well.
VALID: list[tuple[str, str, Mutation]] = [
    ("Warehouse", "interval 1h30m", _set("spec.interval", "1h30m")),
    ("Warehouse", "interval with fraction", _set("spec.interval", "1.5h")),
    ("Warehouse", "manual freight creation", _set("spec.freightCreationPolicy", "Manual")),
    ("Warehouse", "creation criteria", _set("spec.freightCreationCriteria", {"expression": "true"})),
    ("Warehouse", "image with port", _set(f"{IMG}.repoURL", "localhost:5000/team/app")),
    ("Warehouse", "image Digest with tag", _set(f"{IMG}", {"repoURL": "a/b", "imageSelectionStrategy": "Digest",
                                                           "constraint": "latest"})),
    ("Warehouse", "image every field", _set(f"{IMG}", {
        "repoURL": "ghcr.io/a/b", "imageSelectionStrategy": "SemVer", "strictSemvers": False,
        "constraint": "^1.2.0", "allowTagsRegexes": ["^v"], "ignoreTagsRegexes": ["-rc"],
        "platform": "linux_x/amd64", "insecureSkipTLSVerify": True, "discoveryLimit": 100, "cacheByTag": True,
    })),
    ("Warehouse", "git every field", _set(f"{GIT}", {
        "repoURL": "https://user@git.example.com:8443/org/repo.git", "commitSelectionStrategy": "SemVer",
        "branch": "release/1.x", "strictSemvers": True, "semverConstraint": ">=1.0.0 <2.0.0",
        "allowTagsRegexes": ["^v"], "ignoreTagsRegexes": ["-rc"], "expressionFilter": "true",
        "insecureSkipTLSVerify": False, "blobless": True, "includePaths": ["apps/", "glob:**/*.yaml"],
        "excludePaths": ["regex:^docs/"], "discoveryLimit": 1, "since": "2024-01-31T00:00:00Z",
    })),
    ("Warehouse", "git scp-style URL", _set(f"{GIT}.repoURL", "git@github.com:akuity/guestbook.git")),
    ("Warehouse", "chart oci", _set(f"{CHART}", {"repoURL": "oci://ghcr.io/org/charts/app"})),
    ("Warehouse", "chart every field", _set(f"{CHART}", {"repoURL": "https://c.example.com", "name": "app",
                                                        "semverConstraint": "~1.2", "discoveryLimit": 5,
                                                        "insecureSkipTLSVerify": True})),
    ("Stage", "soak and strategy", _set(f"{SRC}", {"stages": ["a"], "requiredSoakTime": "1h",
                                                   "availabilityStrategy": "All",
                                                   "autoPromotionOptions": {"selectionPolicy": "MatchUpstream"}})),
    ("Stage", "empty availabilityStrategy", _set(f"{SRC}.availabilityStrategy", "")),
    ("Stage", "no promotion template", _set("spec.promotionTemplate", ...)),
    ("Stage", "task step with vars", _set(STEP, {"task": {"name": "promote", "kind": "ClusterPromotionTask"},
                                                 "as": "deploy", "if": "${{ always() }}",
                                                 "vars": [{"name": "x", "value": "1"}]})),
    ("Stage", "step with retry", _set(f"{STEP}.retry", {"errorThreshold": 3, "timeout": "10m"})),
    ("Stage", "stage vars", _set("spec.vars", [{"name": "_a1", "value": "x"}, {"name": "b"}])),
    ("Stage", "analysis run metadata", _set("spec.verification.analysisRunMetadata", {"labels": {"a": "b"}})),
    ("PromotionTask", "var without value", _set("spec.vars.0", {"name": "repoURL"})),
    ("ProjectConfig", "selector by glob", _set("spec.promotionPolicies.0", {"stageSelector": {"name": "glob:p*"},
                                                                          "autoPromotionEnabled": True})),
    ("AnalysisTemplate", "int-or-string limits", _set("spec.metrics.0", {
        "name": "up", "count": "{{args.n}}", "failureLimit": 3, "interval": "10s", "initialDelay": "1m",
        "successCondition": "result == 'ok'", "provider": {"prometheus": {"address": "http://p", "query": "up"}},
    })),
]  # fmt: skip


def _loader_problems(tmp_path: Path, doc: Json) -> list[str]:
    (tmp_path / "m.yaml").write_text(json.dumps(doc))  # JSON is YAML
    try:
        load_project(tmp_path)
    except InvalidInputError as err:
        return err.lines()
    return []


@pytest.mark.parametrize(("kind", "what", "mutate"), INVALID, ids=[f"{k}: {w}" for k, w, _ in INVALID])
def test_crd_rejects_and_so_does_the_loader(
    kind: str, what: str, mutate: Mutation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = copy.deepcopy(BASES[kind])
    mutate(doc)
    assert contract_errors(doc), f"the CRD was expected to reject: {what}"
    assert _loader_problems(tmp_path, doc), f"the loader accepted what the CRD rejects: {what}"


@pytest.mark.parametrize(("kind", "what", "mutate"), VALID, ids=[f"{k}: {w}" for k, w, _ in VALID])
def test_crd_accepts_and_so_does_the_loader(
    kind: str, what: str, mutate: Mutation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = copy.deepcopy(BASES[kind])
    mutate(doc)
    assert contract_errors(doc) == []
    # Cross-references (tasks, templates, stages) are not this test's subject: check the document alone.
    model = MODELS[kind][1]
    model.model_validate(doc)


# Rules the CRDs state as CEL (x-kubernetes-validations), which JSON Schema cannot run: the models
# enforce them, and the CRD is checked to still carry each rule.
CEL_RULES: list[tuple[str, str, Mutation]] = [
    ("Stage", "PromotionTemplate step must have exactly one of uses or task set",
     _set(STEP, {"uses": "git-clone", "task": {"name": "promote"}})),
    ("Stage", "PromotionTemplate step must have exactly one of uses or task set", _set(STEP, {"as": "x"})),
    ("Stage", "PromotionTemplate step referencing a task cannot set continueOnError",
     _set(STEP, {"task": {"name": "promote"}, "continueOnError": True})),
    ("Stage", "PromotionTemplate step referencing a task cannot set retry",
     _set(STEP, {"task": {"name": "promote"}, "retry": {"errorThreshold": 2}})),
    ("PromotionTask", "PromotionTask step must have uses set and must not reference another task",
     _set("spec.steps.0", {"task": {"name": "other"}})),
    ("ProjectConfig", "PromotionPolicy must have exactly one of stage or stageSelector set",
     _set("spec.promotionPolicies.0.stageSelector", {"name": "test"})),
    ("ProjectConfig", "PromotionPolicy must have exactly one of stage or stageSelector set",
     _set("spec.promotionPolicies.0.stage", ...)),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "rule", "mutate"), CEL_RULES)
def test_cel_rules_of_the_crds_are_enforced(kind: str, rule: str, mutate: Mutation) -> None:
    assert rule in json.dumps(crd_schema(kind))
    doc = copy.deepcopy(BASES[kind])
    mutate(doc)
    with pytest.raises(ValueError, match=r"exactly one|cannot|needs uses"):
        MODELS[kind][1].model_validate(doc)


def test_crd_defaults_are_the_model_defaults() -> None:
    doc = copy.deepcopy(WAREHOUSE)
    filled = apply_defaults(crd_schema("Warehouse"), doc)
    for i, sub in enumerate(filled["spec"]["subscriptions"]):
        for sub_kind, body in sub.items():
            sub[sub_kind] = apply_defaults(subscription_schema(sub_kind), body)
        assert i < 3
    model = MODELS["Warehouse"][1].model_validate(copy.deepcopy(WAREHOUSE))
    wire = model.wire()  # type: ignore[attr-defined]
    assert wire["spec"]["interval"] == filled["spec"]["interval"] == "5m0s"
    assert wire["spec"]["freightCreationPolicy"] == filled["spec"]["freightCreationPolicy"] == "Automatic"
    for mine, theirs in zip(wire["spec"]["subscriptions"], filled["spec"]["subscriptions"], strict=True):
        for sub_kind, body in theirs.items():
            for key, value in body.items():
                assert mine[sub_kind][key] == value, f"{sub_kind}.{key}"


def test_yaml_fixture_round_trip(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: kargo.akuity.io/v1alpha1
            kind: Warehouse
            metadata:
              name: app
            spec:
              interval: 10m
              subscriptions:
              - name: frontend
                image:
                  repoURL: ghcr.io/example/frontend
                  imageSelectionStrategy: NewestBuild
                  platform: linux/amd64
            """
        )
    )
    warehouse = load_project(tmp_path).warehouses["app"]
    assert contract_errors(warehouse.manifest()) == []
    assert warehouse.subscriptions[0].name == "frontend"
