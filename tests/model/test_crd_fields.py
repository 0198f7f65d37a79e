"""Field by field, the models mirror Kargo's CRDs and subscription schemas: names, required, enums, defaults."""

from __future__ import annotations

import typing
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from kargo_actions.model.analysis import AnalysisTemplate
from kargo_actions.model.base import model_in
from kargo_actions.model.project import ProjectConfig
from kargo_actions.model.promotion_task import ClusterPromotionTask, PromotionTask
from kargo_actions.model.stage import Stage
from kargo_actions.model.warehouse import ChartSubscription, GitSubscription, ImageSubscription, Warehouse
from tests.model.test_crd_contract import crd_schema, subscription_schema

# Fields a model has on purpose that the schema does not (each explained in docs/manifests.md).
EXTRA_IN_MODEL = {
    "Warehouse.spec.subscriptions[]": {"name"},  # subscription name, feeds the Freight ID
    "image": {"semverConstraint"},  # kept only to refuse it with a message naming `constraint`
}
# Required in the schema, defaulted in the model because the schema's own default fills it first.
REQUIRED_BUT_DEFAULTED = {"Warehouse.spec.interval", "Stage.spec.requestedFreight[].origin.kind"}
# Schema objects kept as raw data (x-kubernetes-preserve-unknown-fields or not modelled field by field).
RAW = {"status", "metadata", "config", "targets", "webhookReceivers", "promotionWindows", "stageLinks",
       "freightLinks", "autoRollback", "job", "kayenta", "datadog", "newRelic", "wavefront", "graphite",
       "influxdb", "skywalking", "cloudWatch", "plugin", "jsonBody"}  # fmt: skip


def _literal_values(annotation: Any) -> set[str] | None:
    if typing.get_origin(annotation) is Literal:
        return set(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        found = _literal_values(arg)
        if found is not None:
            return found
    return None


def compare(model: type[BaseModel], schema: dict[str, Any], where: str, found: list[str]) -> None:
    """Walk the schema and the model together, noting every difference in `found`."""
    props: dict[str, Any] = schema.get("properties", {})
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    allowed_extra = EXTRA_IN_MODEL.get(where, set()) | EXTRA_IN_MODEL.get(where.rsplit(".", 1)[-1], set())
    for name in sorted(set(fields) - set(props) - allowed_extra):
        found.append(f"{where}.{name}: in the model, not in the schema")
    for name, sub in props.items():
        if name in ("apiVersion", "kind") and where.count(".") == 0:
            continue
        field = fields.get(name)
        if field is None:
            found.append(f"{where}.{name}: in the schema, not in the model")
            continue
        path = f"{where}.{name}"
        required = field.default is PydanticUndefined and field.default_factory is None
        if name in schema.get("required", []) and not required and path not in REQUIRED_BUT_DEFAULTED:
            found.append(f"{path}: required by the schema, optional in the model")
        if "default" in sub and field.default != sub["default"]:
            found.append(f"{path}: default {sub['default']!r} in the schema, {field.default!r} in the model")
        if "enum" in sub:
            values = _literal_values(field.annotation)
            if values != set(sub["enum"]) and values != set(sub["enum"]) - {""}:
                found.append(f"{path}: enum {sub['enum']} in the schema, {values} in the model")
        if name in RAW:
            continue
        inner = sub.get("items", sub) if sub.get("type") == "array" else sub
        nested = model_in(field.annotation)
        if "properties" in inner and nested is not None:
            compare(nested, inner, path + ("[]" if sub.get("type") == "array" else ""), found)


@pytest.mark.parametrize(
    ("kind", "model"),
    [("Warehouse", Warehouse), ("Stage", Stage), ("PromotionTask", PromotionTask),
     ("ClusterPromotionTask", ClusterPromotionTask), ("ProjectConfig", ProjectConfig),
     ("AnalysisTemplate", AnalysisTemplate)],
)  # fmt: skip
def test_model_mirrors_crd(kind: str, model: type[BaseModel]) -> None:
    found: list[str] = []
    compare(model, crd_schema(kind), kind, found)
    assert found == []


@pytest.mark.parametrize(
    ("kind", "model"), [("image", ImageSubscription), ("git", GitSubscription), ("chart", ChartSubscription)]
)
def test_subscription_models_mirror_their_schemas(kind: str, model: type[BaseModel]) -> None:
    found: list[str] = []
    compare(model, subscription_schema(kind), kind, found)
    assert found == []
