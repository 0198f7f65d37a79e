"""Every registered step's config model agrees with Kargo's JSON Schema for that step.

For each step: configs generated from the schema must be accepted; mutations of them (a value of another
type, a key removed, an unknown key added) must be accepted exactly when the schema accepts them; and a
hand-written table of tricky configs per step is checked against both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kargo_actions.promotion.registry import get_step, step_names
from kargo_actions.promotion.step_api import StepConfigError, validate_config
from tests.conftest import shared_path
from tests.promotion.schema_examples import (
    WRONG_VALUES,
    inline,
    load_schemas,
    paths_of,
    removed,
    replaced,
    strategy,
)

EXAMPLES_PER_STEP = 30

# Steps with no Kargo JSON Schema here: the gha-* steps belong to Kargo's Akuity Platform, which publishes
# only their docs (their configs follow those docs; tests/promotion/steps/test_gha_workflow.py checks them).
OWN_STEPS: frozenset[str] = frozenset({"gha-dispatch-workflow", "gha-wait-for-workflow"})


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    return load_schemas(shared_path("specs", "kargo", "step-schemas"))


@functools.cache
def _validator(step: str) -> jsonschema.Draft202012Validator:
    schema = inline(_schemas(), f"{step}-config.json")
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _model_accepts(step: str, config: Any) -> tuple[bool, str]:
    if not isinstance(config, dict):
        return False, "not an object"  # the engine hands steps objects only
    try:
        validate_config(step, get_step(step).config_model, config)
    except StepConfigError as err:
        return False, str(err)
    return True, ""


def _repeats_a_checkout_alias(config: Any) -> bool:
    checkouts = config.get("checkout") if isinstance(config, dict) else None
    aliases = [c["as"] for c in checkouts or () if isinstance(c, dict) and c.get("as")]
    return len(aliases) != len(set(aliases))


# Rules a Kargo step checks in its convert() after the schema, so the schema accepts what the step refuses.
BEYOND_SCHEMA: dict[str, Callable[[Any], bool]] = {"git-clone": _repeats_a_checkout_alias}


def _kargo_accepts(step: str, config: Any) -> bool:
    refused = BEYOND_SCHEMA.get(step)
    return _validator(step).is_valid(config) and not (refused is not None and refused(config))


def _agrees(step: str, config: Any) -> None:
    schema_ok = _kargo_accepts(step, config)
    model_ok, why = _model_accepts(step, config)
    assert model_ok == schema_ok, (
        f"{step}: the schema {'accepts' if schema_ok else 'rejects'} {config!r} but the model "
        f"{'accepts it' if model_ok else 'rejects it: ' + why}"
    )


STEPS = sorted(step_names())


def test_every_step_has_a_kargo_schema() -> None:
    names = {n.removesuffix("-config.json") for n in _schemas() if n.endswith("-config.json")}
    missing = [s for s in STEPS if s not in names and s not in OWN_STEPS]
    assert not missing, f"steps with no Kargo schema (add them to OWN_STEPS if they are ours): {missing}"


@pytest.mark.parametrize("step", STEPS)
def test_model_agrees_with_schema_on_generated_configs(step: str) -> None:
    if step in OWN_STEPS:
        pytest.skip(f"{step} has no Kargo JSON Schema here (OWN_STEPS says why)")
    validator = _validator(step)
    valid = strategy(validator.schema).filter(functools.partial(_kargo_accepts, step))

    @settings(
        max_examples=EXAMPLES_PER_STEP,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(config=valid, data=st.data())
    def check(config: Any, data: st.DataObject) -> None:
        model_ok, why = _model_accepts(step, config)
        assert model_ok, f"{step}: the schema accepts {config!r} but the model rejects it: {why}"
        paths = paths_of(config)
        if paths:
            path = data.draw(st.sampled_from(paths), label="path")
            for wrong in WRONG_VALUES:
                _agrees(step, replaced(config, path, wrong))
            _agrees(step, removed(config, path))
        _agrees(step, {**config, "zzNotAField": "x"})
        _agrees(step, [config])

    check()


# Tricky configs per step: (config, valid under Kargo's schema). The schema is asked too, so a wrong
# expectation here fails loudly instead of testing the wrong thing.
TRICKY: dict[str, list[tuple[Any, bool]]] = {
    "copy": [
        ({"inPath": "a", "outPath": "b"}, True),
        ({"inPath": "a", "outPath": "b", "ignore": "*.tmp\n!keep.tmp\n"}, True),
        ({"inPath": "a"}, False),
        ({"inPath": "", "outPath": "b"}, False),
        ({"inPath": "a", "outPath": "b", "ignore": ""}, False),
        ({"inPath": "a", "outPath": "b", "ignore": None}, False),
        ({"in_path": "a", "outPath": "b"}, False),  # Python names are not wire names
        ({"inPath": "a", "outPath": "b", "InPath": "c"}, False),
        ({"inPath": 1, "outPath": "b"}, False),
    ],
    "delete": [
        ({"path": "a"}, True),
        ({"paths": ["a", "b/**/*.tmp"], "pathsAreGlobs": True, "strict": True}, True),
        ({}, False),
        ({"path": "a", "paths": ["b"]}, False),
        ({"paths": []}, False),
        ({"paths": [""]}, False),
        ({"path": None}, False),
        ({"path": "a", "strict": "true"}, False),  # no "true" for true
        ({"path": "a", "strict": 1}, False),
        ({"path": "a", "pathsAreGlobs": None}, False),
        ({"strict": True}, False),
    ],
    "compose-output": [
        ({"a": 1}, True),
        ({"a": None, "b": [1, {"c": "d"}], "in_path": "x"}, True),  # any key, any value
        ({"": "empty key is a key"}, True),
        ({}, False),
    ],
    "argocd-update": [
        ({"apps": [{"name": "a"}]}, True),
        ({"apps": [{"name": "a", "selector": {"matchLabels": {"x": "y"}}}]}, False),
        ({"apps": [{}]}, False),
        ({"apps": [{"selector": {"matchLabels": {}}}]}, False),
        (
            {
                "apps": [
                    {
                        "selector": {
                            "matchLabels": {},
                            "matchExpressions": [{"key": "k", "operator": "Exists"}],
                        }
                    }
                ]
            },
            True,
        ),
        (
            {"apps": [{"selector": {"matchExpressions": [{"key": "k", "operator": "In"}]}}]},
            True,
        ),  # checked when run
        ({"apps": [{"name": "a", "sources": []}]}, False),
        ({"apps": [{"name": "a", "sources": [{"repoURL": "r", "updateTargetRevision": True}]}]}, False),
        ({"apps": [{"name": "a", "sources": [{"repoURL": "r", "updateTargetRevision": False}]}]}, True),
        ({"apps": [{"name": "a", "sources": [{"repoURL": "r", "desiredRevision": ""}]}]}, False),
        (
            {
                "apps": [
                    {
                        "name": "a",
                        "sources": [{"repoURL": "r", "helm": {"images": [{"key": "k", "value": ""}]}}],
                    }
                ]
            },
            True,
        ),
        ({"apps": [{"name": "a", "sources": [{"repoURL": "r", "helm": {}}]}]}, False),
        ({"apps": [{"name": "a", "sources": [{"repoURL": "r", "kustomize": {}}]}]}, True),
        (
            {
                "apps": [
                    {
                        "name": "a",
                        "sources": [
                            {
                                "repoURL": "r",
                                "kustomize": {"images": [{"repoURL": "i", "tag": "1", "digest": "d"}]},
                            }
                        ],
                    }
                ]
            },
            False,
        ),
        (
            {
                "apps": [
                    {
                        "name": "a",
                        "sources": [
                            {
                                "repoURL": "r",
                                "kustomize": {"images": [{"repoURL": "i", "tag": "", "digest": "d"}]},
                            }
                        ],
                    }
                ]
            },
            True,
        ),
    ],
    "argocd-wait": [
        ({"apps": [{"name": "a", "waitFor": ["sync"]}]}, True),
        ({"apps": [{"name": "a", "waitFor": ["health", "health"]}]}, False),
        ({"apps": [{"name": "a", "waitFor": []}]}, False),
        ({"apps": [{"name": "a", "waitFor": ["ready"]}]}, False),
        ({"apps": [{"selector": {"matchLabels": {"env": "dev"}}, "namespace": "team"}]}, True),
        ({"apps": [{"name": "a", "namespace": ""}]}, False),
    ],
    "fail": [
        ({}, True),
        ({"message": "why"}, True),
        ({"message": ""}, False),
        ({"message": None}, False),
        ({"message": 3}, False),
        ({"reason": "x"}, False),
    ],
}


@pytest.mark.parametrize(
    ("step", "config", "valid"),
    [(step, config, valid) for step, rows in TRICKY.items() for config, valid in rows],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_tricky_configs(step: str, config: Any, valid: bool) -> None:
    assert _validator(step).is_valid(config) is valid, "the table disagrees with Kargo's schema"
    model_ok, why = _model_accepts(step, config)
    assert model_ok is valid, why
