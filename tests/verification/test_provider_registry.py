"""The provider registry lists every provider module once, each resolving to a class the runner can open."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from kargo_actions.model.analysis import Metric
from kargo_actions.verification import providers
from kargo_actions.verification.providers import PROVIDERS, provider_factory
from kargo_actions.verification.templates import provider_kind

# Modules of the package that are not providers: the protocol and the OAuth2 client the providers share.
NOT_PROVIDERS = {"__init__", "base", "oauth2"}


def test_registry_lists_every_provider_module() -> None:
    folder = Path(providers.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - NOT_PROVIDERS
    assert modules == {target.partition(":")[0] for target in PROVIDERS.values()}


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_each_entry_is_a_provider_class(kind: str) -> None:
    factory = provider_factory(kind)
    assert inspect.isclass(factory)
    assert callable(getattr(factory, "measure", None))
    assert callable(getattr(factory, "close", None))


@pytest.mark.parametrize(
    ("provider", "kind"),
    [
        ({"web": {"url": "http://127.0.0.1/"}}, "web"),
        ({"prometheus": {"address": "http://127.0.0.1:9090", "query": "up"}}, "prometheus"),
        ({"plugin": {"kargo-actions/github-checks": {}}}, "github-checks"),
    ],
)
def test_the_kinds_templates_choose_are_registered(provider: dict[str, object], kind: str) -> None:
    metric = Metric.model_validate({"name": "m", "provider": provider})
    assert provider_kind(metric) == kind
    assert kind in PROVIDERS
