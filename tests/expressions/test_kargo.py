"""Kargo's environment beyond the table: providers from the environment, ambiguity, absent variables."""

from __future__ import annotations

import pytest

from kargo_actions.expressions import (
    CONFIG_MAP_ENV_PREFIX,
    SECRET_ENV_PREFIX,
    ExpressionError,
    KargoEnvironment,
    config_maps_from_environment,
    environ_provider,
    evaluate,
    secrets_from_environment,
)
from kargo_actions.model.freight import Freight
from tests.expressions.fixtures import IMAGE_REPO, guestbook_freight, kargo_environment


def test_secrets_and_config_maps_from_workflow_environment() -> None:
    environ = {
        "KARGO_SECRET_SLACK__token": "xoxb-1",
        "KARGO_SECRET_DB": '{"user": "app", "password": "pw"}',
        "KARGO_CONFIGMAP_MY_CONFIG": '{"repoURL": "https://example.com/r.git"}',
        "UNRELATED": "x",
    }
    env = KargoEnvironment(
        secrets=environ_provider(SECRET_ENV_PREFIX, environ),
        config_maps=environ_provider(CONFIG_MAP_ENV_PREFIX, environ),
    ).build()
    assert evaluate("secret('slack').token", env) == "xoxb-1"
    assert evaluate("secret('db')", env) == {"user": "app", "password": "pw"}
    assert evaluate("configMap('my-config').repoURL", env) == "https://example.com/r.git"
    assert evaluate("secret('absent')", env) == {}


def test_a_provider_value_that_is_not_a_json_object_is_an_error() -> None:
    env = KargoEnvironment(secrets=environ_provider(SECRET_ENV_PREFIX, {"KARGO_SECRET_BAD": "[1]"})).build()
    with pytest.raises(ExpressionError, match="KARGO_SECRET_BAD must hold a JSON object"):
        evaluate("secret('bad')", env)


def test_an_artifact_in_freight_of_two_warehouses_needs_an_origin() -> None:
    other = Freight.model_validate(
        {
            "metadata": {"name": "other"},
            "origin": {"kind": "Warehouse", "name": "mirror"},
            "images": [{"repoURL": IMAGE_REPO, "tag": "v9.9.9"}],
        }
    )
    env = kargo_environment(freight=[guestbook_freight(), other]).build()
    with pytest.raises(ExpressionError) as caught:
        evaluate(f"imageFrom('{IMAGE_REPO}').Tag", env)
    assert "is in Freight from more than one Warehouse (guestbook, mirror)" in caught.value.message
    assert 'warehouse("guestbook")' in caught.value.hint
    assert evaluate(f"imageFrom('{IMAGE_REPO}', warehouse('mirror')).Tag", env) == "v9.9.9"


def test_outputs_and_task_are_absent_when_not_given() -> None:
    env = KargoEnvironment(stage="dev", vars={"a": 1}).build()
    assert evaluate("ctx.stage + string(vars.a)", env) == "dev1"
    assert evaluate("outputs", env) is None  # undefined, so nil, as in Kargo
    with pytest.raises(ExpressionError, match='cannot read "x" of "outputs", which is not defined'):
        evaluate("outputs.x", env)
    with pytest.raises(ExpressionError, match='cannot read "outputs" of "task", which is not defined'):
        evaluate("task.outputs.x", env)


def test_failure_reflects_the_step_statuses_at_call_time() -> None:
    statuses = {"a": "Succeeded"}
    env = kargo_environment(step_statuses=lambda: statuses).build()
    assert evaluate("success() && !failure()", env) is True
    statuses["b"] = "Errored"
    assert evaluate("failure() && !success()", env) is True
    assert evaluate("status('b')", env) == "Errored"


def test_secret_values_inside_json_are_masked_in_github_actions(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"GITHUB_ACTIONS": "true", "KARGO_SECRET_DB": '{"user": "app", "password": "p@ss\\nword2"}'}
    env = KargoEnvironment(secrets=secrets_from_environment(environ)).build()
    assert evaluate("secret('db').password", env) == "p@ss\nword2"
    assert capsys.readouterr().err.splitlines() == [
        "::add-mask::app",
        "::add-mask::p@ss",
        "::add-mask::word2",
    ]
    outside = KargoEnvironment(secrets=secrets_from_environment({"KARGO_SECRET_DB": '{"a": "b"}'})).build()
    assert evaluate("secret('db').a", outside) == "b"
    assert capsys.readouterr().err == ""


def test_config_maps_from_environment() -> None:
    env = KargoEnvironment(
        config_maps=config_maps_from_environment({"KARGO_CONFIGMAP_APP__region": "eu"})
    ).build()
    assert evaluate("configMap('app').region", env) == "eu"


def test_vars_resolve_in_order_with_ctx_and_earlier_vars() -> None:
    base = kargo_environment()
    resolved = base.resolve_vars(
        [
            ("gitRepo", "https://github.com/example/repo.git"),
            ("targetBranch", "stage/${{ ctx.stage }}"),
            ("outPath", "./out/${{ vars.targetBranch }}"),
            ("replicas", "${{ 1 + 2 }}"),
            ("gitRepo", "${{ vars.gitRepo + '#main' }}"),  # a template var overrides the Stage's
        ]
    )
    assert resolved == {
        "gitRepo": "https://github.com/example/repo.git#main",
        "targetBranch": "stage/dev",
        "outPath": "./out/stage/dev",
        "replicas": 3,
    }
    with pytest.raises(ExpressionError, match='cannot read "commit" of "outputs", which is not defined'):
        base.resolve_vars([("x", "${{ outputs.commit.commit }}")])
    with pytest.raises(ExpressionError, match=r"secret\(\) is not available in the definition of a variable"):
        base.resolve_vars([("x", "${{ secret('slack').token }}")])
