"""Stage, promotion steps and tasks: defaults, aliases, one-of rules, control flow."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kargo_actions.model.promotion import Promotion, promotion_name
from kargo_actions.model.promotion_task import PromotionTask, StageStep
from kargo_actions.model.settings import Settings
from kargo_actions.model.stage import Stage


def stage(**spec: Any) -> Stage:
    base: dict[str, Any] = {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}]
    }
    return Stage.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "s"},
            "spec": base | spec,
        }
    )


def test_source_defaults() -> None:
    sources = stage().spec.requested_freight[0].sources
    assert sources.strategy == "OneOf"
    assert sources.selection_policy == "NewestFreight"
    assert sources.required_soak_time is None


def test_control_flow_stage_has_no_steps() -> None:
    assert stage().is_control_flow
    s = stage(promotionTemplate={"spec": {"steps": [{"uses": "fail"}]}})
    assert not s.is_control_flow
    assert s.steps[0].uses == "fail"


def test_step_aliases_default_to_position() -> None:
    steps = [{"uses": "git-clone"}, {"task": {"name": "promote"}}, {"uses": "fail", "as": "stop"}]
    s = stage(promotionTemplate={"spec": {"steps": steps}})
    assert [step.alias(i) for i, step in enumerate(s.steps)] == ["step-1", "task-2", "stop"]
    assert s.steps[1].task is not None
    assert s.steps[1].task.kind == "PromotionTask"


def test_step_fields_on_the_wire() -> None:
    step = StageStep.model_validate(
        {"uses": "http", "as": "probe", "if": "${{ always() }}", "continueOnError": True,
         "retry": {"timeout": "1m"}, "config": {"url": "${{ vars.url }}", "timeoutSeconds": 5}}
    )  # fmt: skip
    assert (step.as_, step.if_, step.continue_on_error) == ("probe", "${{ always() }}", True)
    assert step.retry is not None
    assert step.retry.error_threshold == 1
    assert step.config == {"url": "${{ vars.url }}", "timeoutSeconds": 5}
    wire = step.wire()
    assert wire["as"] == "probe"
    assert wire["if"] == "${{ always() }}"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}] * 2},
         r"requestedFreight\[0\] and requestedFreight\[1\] both request Freight from Warehouse/w"),
        ({"promotionTemplate": {"spec": {"steps": [{"uses": "a", "as": "x"}, {"uses": "b", "as": "x"}]}}},
         "both named 'x'"),
        ({"promotionTemplate": {"spec": {"steps": [{"uses": "a", "as": "step-2"}, {"uses": "b"}]}}},
         "both named 'step-2'"),
    ],
)  # fmt: skip
def test_stage_rules(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        stage(**spec)


def test_upstream_and_requests() -> None:
    s = stage(requestedFreight=[
        {"origin": {"kind": "Warehouse", "name": "a"}, "sources": {"stages": ["x", "y"]}},
        {"origin": {"kind": "Warehouse", "name": "b"}, "sources": {"stages": ["y", "z"], "direct": True}},
    ])  # fmt: skip
    assert s.upstream_stages == ["x", "y", "z"]
    assert s.warehouses == ["a", "b"]
    request = s.request_for("b")
    assert request is not None
    assert request.sources.direct
    assert s.request_for("c") is None


def test_task_required_vars() -> None:
    task = PromotionTask.model_validate(
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "PromotionTask", "metadata": {"name": "t"},
         "spec": {"vars": [{"name": "a"}, {"name": "b", "value": ""}], "steps": [{"uses": "fail"}]}}
    )  # fmt: skip
    assert task.spec.required_vars == ["a"]  # an empty value is a value


def test_settings_defaults_and_refs() -> None:
    settings = Settings()
    assert (settings.spec.ledger_branch, settings.spec.remote, settings.spec.tag_prefix) == (
        "kargo/ledger", "origin", "kargo/freight",
    )  # fmt: skip
    assert settings.spec.signing == "auto"
    for bad in ("kargo..ledger", "ledger.lock", "/ledger", "a b", "x~1"):
        with pytest.raises(ValidationError, match="not a valid git ref name"):
            Settings.model_validate({"spec": {"ledgerBranch": bad}})


def test_promotion_record() -> None:
    name = promotion_name("prod", "01J0ZK9Q3V5R2E7W4X8Y6T1N0M", "a1b2c3d4e5f6")
    assert name == "prod.01j0zk9q3v5r2e7w4x8y6t1n0m.a1b2c3d"
    record = Promotion.model_validate(
        {"metadata": {"name": name}, "spec": {"stage": "prod", "freight": "a1b2c3d4e5f6",
                                              "steps": [{"uses": "fail"}]}}
    )  # fmt: skip
    assert record.status.phase == "Pending"
    assert not record.finished
    done = record.model_copy(update={"status": record.status.model_copy(update={"phase": "Succeeded"})})
    assert done.finished


def test_settings_precedence_flag_env_file_default() -> None:
    from_file = Settings.model_validate(
        {"spec": {"ledgerBranch": "file/ledger", "tagPrefix": "file/tags", "signing": "never",
                  "environments": {"prod": {"reviewers": ["octocat"]}}}}
    )  # fmt: skip
    env = {"KARGO_ACTIONS_TAG_PREFIX": "env/tags", "KARGO_ACTIONS_SIGN": "required",
           "KARGO_ACTIONS_INSECURE_REGISTRIES": "localhost:5000, registry.test"}  # fmt: skip
    spec = from_file.resolved(env, signing="auto", ledger_branch=None)
    assert spec.signing == "auto"  # flag beats env and file
    assert spec.tag_prefix == "env/tags"  # env beats file
    assert spec.ledger_branch == "file/ledger"  # file beats default
    assert spec.remote == "origin"  # default
    assert spec.insecure_registries == ["localhost:5000", "registry.test"]
    assert spec.environments["prod"].reviewers == ["octocat"]
    with pytest.raises(ValidationError, match="sometimes"):
        from_file.resolved({"KARGO_ACTIONS_SIGN": "sometimes"})
    with pytest.raises(ValueError, match="no such setting: colour"):
        from_file.resolved({}, colour="blue")
