"""ProjectConfig freightLinks / stageLinks on the dashboard: the Go-template subset and the expr-lang `if`
(Kargo's pkg/deeplinks rules: false conditions omit a link, errors are collected per link), and the links on
a real site, escaped, with only http(s) URLs clickable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.ledger import Ledger
from kargo_actions.report.dashboard_links import DeepLink, ResolvedLink, evaluate_links, parse_links
from kargo_actions.report.go_template import TemplateError, render_go_template
from tests.ledger.helpers import make_repo
from tests.report.test_dashboard import MANIFESTS, parse, run, shop_freight

CONTEXT: dict[str, Any] = {
    "freight": {
        "metadata": {"name": "f00dcafe", "namespace": "shop-space"},
        "alias": "",
        "images": [{"tag": "v1.2.3", "repoURL": "ghcr.io/acme/web"}],
        "commits": [{"id": "0123456789abcdef", "repoURL": "https://github.com/acme/web"}],
    }
}

RENDERED = [
    ("https://example.com/{{ .freight.metadata.name }}", "https://example.com/f00dcafe"),
    ("{{ (index .freight.images 0).tag }}", "v1.2.3"),
    ('{{ index .freight.images 0 "repoURL" }}', "ghcr.io/acme/web"),
    ("a {{- .freight.metadata.name -}} b", "af00dcafeb"),
    ("{{ .freight.nothing }}", "<no value>"),  # Go prints a missing map key so
    ("{{ .freight.metadata.name | upper }}", "F00DCAFE"),
    ('{{ printf "%s/%d%%" .freight.metadata.name 7 }}', "f00dcafe/7%"),
    ('{{ urlquery "a b&c" }}', "a+b%26c"),
    ('{{ default "none" .freight.alias }}', "none"),
    ('{{ trimPrefix "ghcr.io/" (index .freight.images 0).repoURL }}', "acme/web"),
    ("{{ trunc 7 (index .freight.commits 0).id }}", "0123456"),
    ('{{ replace "/" "%2F" (index .freight.images 0).repoURL | lower }}', "ghcr.io%2facme%2fweb"),
    ("{{ len .freight.images }}{{/* a comment */}}", "1"),
    ("plain text", "plain text"),
]


@pytest.mark.parametrize(("template", "expected"), RENDERED)
def test_go_template_subset_renders_as_go_does(template: str, expected: str) -> None:
    assert render_go_template(template, CONTEXT) == expected


FAILING = [
    ("{{ .freight.metadata.name", "unclosed action"),
    ("{{ if .freight }}x{{ end }}", "{{ if }} is not supported"),
    ("{{ range .freight.images }}x{{ end }}", "{{ range }} is not supported"),
    ("{{ sha256sum .freight.metadata.name }}", 'function "sha256sum" not defined'),
    ("{{ .freight.nothing.deeper }}", "nil pointer evaluating interface {}.deeper"),
    ("{{ index .freight.images 5 }}", "index out of range: 5"),
    ("{{ len }}", "error calling len"),
    ("{{ .freight 1 }}", "unexpected '1'"),
    ("{{ }}", "missing value"),
    ("{{ (index .freight.images 0 }}", "unclosed left paren"),
]


@pytest.mark.parametrize(("template", "message"), FAILING)
def test_unsupported_or_broken_templates_say_why(template: str, message: str) -> None:
    with pytest.raises(
        TemplateError, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")
    ):
        render_go_template(template, CONTEXT)


def test_conditions_and_errors_as_kargo_collects_them() -> None:
    links = [
        DeepLink("Freight", "https://example.com/{{ .freight.metadata.name }}", "the Freight's own page"),
        DeepLink(
            "Ours",
            "https://x/{{ .freight.metadata.name }}",
            condition='freight.metadata.namespace == "shop-space"',
        ),
        DeepLink("Theirs", "https://x", condition='freight.metadata.namespace == "elsewhere"'),
        DeepLink("Number if", "https://x", condition="1 + 1"),
        DeepLink("Broken if", "https://x", condition="freight.metadata.name ==="),
        DeepLink("Broken url", "https://example.com/{{ .freight.metadata.name"),
    ]
    resolved, errors = evaluate_links(links, CONTEXT)
    assert resolved == [
        ResolvedLink("Freight", "https://example.com/f00dcafe", "the Freight's own page"),
        ResolvedLink("Ours", "https://x/f00dcafe"),
    ]
    assert len(errors) == 3
    assert errors[0] == "condition for link 'Number if' evaluated to non-boolean value"
    assert errors[1].startswith("error evaluating condition for link 'Broken if'")
    assert errors[2].startswith("error evaluating URL template for link 'Broken url'")


def test_link_definitions_are_checked_as_kargos_crd_does() -> None:
    assert parse_links([{"title": "T", "url": "u", "if": "true"}], "freightLinks") == (
        DeepLink("T", "u", "", "true"),
    )
    with pytest.raises(InvalidInputError) as caught:
        parse_links([{"title": "", "url": 3, "colour": "red"}], "stageLinks")
    lines = [str(p) for p in caught.value.problems]
    assert lines == [
        "ProjectConfig spec.stageLinks[0].colour: unknown field",
        "ProjectConfig spec.stageLinks[0].url: not a string",
        "ProjectConfig spec.stageLinks[0].title: required",
    ]


LINKS_CONFIG = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "ProjectConfig",
    "metadata": {"name": "shop"},
    "spec": {
        "freightLinks": [
            {
                "title": "Release <notes>",
                "url": "https://github.com/example/shop/releases/tag/{{ (index .freight.images 0).tag }}",
                "description": "the release of this tag",
            },
            {"title": "Sneaky", "url": "javascript:alert(1)//{{ .freight.metadata.name }}"},
            {
                "title": "Only in dev",
                "url": "https://x/{{ .freight.metadata.name }}",
                "if": "freight.status.currentlyIn != nil && 'dev' in freight.status.currentlyIn",
            },
            {"title": "Broken", "url": "https://x/{{ .freight.nothing.deeper }}"},
        ],
        "stageLinks": [
            {
                "title": "Logs",
                "url": "https://logs.example.com/?ns={{ .stage.metadata.namespace }}&app={{ .stage.metadata.name }}",
            }
        ],
    },
}


def test_links_on_the_site(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate([*MANIFESTS, LINKS_CONFIG]):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    with Ledger(repo) as ledger:
        fid = ledger.record_freight(shop_freight(1)).freight.name
    out = tmp_path / "site"
    code, _, err = run(repo, "dashboard", "--out", str(out))
    assert code == 0, err
    page = parse(out / "freight" / f"{fid[:2]}.html")
    links = {e.text: e.attrs.get("href") for e in page.with_class("deep-link")}
    assert links == {
        "Release <notes>": "https://github.com/example/shop/releases/tag/1.0.1",
        "Sneaky": None,  # not an http(s) URL: shown, not linked
    }  # "Only in dev": the Freight is in no Stage
    (error,) = page.with_class("link-error", "div")
    assert "'Broken'" in error.text
    assert "nil pointer evaluating interface {}.deeper" in error.text
    stage = parse(out / "stages" / "dev.html")
    (logs,) = stage.with_class("deep-link", "a")
    assert logs.attrs["href"] == "https://logs.example.com/?ns=shop&app=dev"
    assert logs.attrs["rel"] == "noopener noreferrer"
    # once the Freight is in dev, the conditional link appears, with the Freight's status as Kargo has it
    code, out_text, err = run(repo, "promote", "--stage", "dev", "--freight", "shop-1", "--no-verify", "-q")
    assert code == 0, out_text + err
    code, _, err = run(repo, "dashboard", "--out", str(out))
    assert code == 0, err
    page = parse(out / "freight" / f"{fid[:2]}.html")
    links = {e.text: e.attrs.get("href") for e in page.with_class("deep-link")}
    assert links["Only in dev"] == f"https://x/{fid}"
