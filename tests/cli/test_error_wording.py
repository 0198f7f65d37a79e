"""Error messages read as sentences: no argument metavar (`REF`) as a field name, the subscription named once
in discovery errors, `timed out` said once, and gate refusals without brackets nested in brackets."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from kargo_actions.oci.errors import timed_out_cause
from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, record, run, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


def depth(text: str) -> int:
    """How deep round brackets nest in `text`."""
    deepest = level = 0
    for char in text:
        level += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, level)
    return deepest


@pytest.mark.parametrize(
    "args",
    [
        ["freight", "show", "nope"],
        ["promote", "--stage", "dev", "--freight", "nope"],
        ["approve", "--freight", "nope", "--stage", "prod"],
        ["rollback", "--stage", "dev", "--to", "nope"],
    ],
)
def test_an_unknown_freight_is_named_without_the_metavar(repo: Path, args: list[str]) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    code, _, err = run(repo, *args)
    assert code == 2
    assert err.startswith("error: no Freight matches 'nope' by ID, ID prefix or alias ("), err
    assert "REF" not in err


def test_gate_refusals_nest_no_brackets(repo: Path) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    record(repo, 2, 2)
    for stage in ("dev", "staging"):
        assert run(repo, "promote", "--stage", stage, "--freight", "f-1", "-q")[0] == 0
    code, _, err = run(repo, "promote", "--stage", "prod", "--freight", "f-1")
    assert code == 3
    assert err.startswith("error: Freight f-1 is not available to Stage prod: verified in staging ")
    assert err.rstrip().endswith("; or approve it: kargo-actions approve --freight f-1 --stage prod")
    assert depth(err) == 1
    code, _, err = run(repo, "promote", "--stage", "prod", "--warehouse", "app")
    assert code == 3
    lines = err.splitlines()
    assert lines[0] == "error: no Freight of Warehouse app is available to Stage prod:"
    assert len(lines) == 3  # one line per Freight refused
    assert all(line.startswith("  ") and line.endswith("--stage prod") for line in lines[1:])
    assert max(depth(line) for line in lines) == 1


def test_discovery_names_the_subscription_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = make_repo(tmp_path / "repo")
    image = f"127.0.0.1:{port}/example/app"
    docs = [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": image}}]},
        },
        {
            "apiVersion": "kargo-actions/v1alpha1",
            "kind": "Settings",
            "metadata": {"name": "s"},
            "spec": {"insecureRegistries": [f"127.0.0.1:{port}"]},
        },
    ]
    write(repo, docs)
    code, out, err = run(repo, "-o", "json", "discover", "--timeout", "5s")
    assert code == 1
    [error] = json.loads(out)["errors"]
    assert error.startswith(f"app subscriptions[0] image {image}: registry unreachable")
    assert error.count(image) == 1
    code, _, err = run(repo, "discover", "--timeout", "5s")
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.count(image) == 1


def test_timed_out_is_said_once() -> None:
    assert timed_out_cause("registry", httpx.ReadTimeout("timed out")) == "registry timed out"
    assert timed_out_cause("registry", httpx.ReadTimeout("")) == "registry timed out"
    assert timed_out_cause("registry", httpx.PoolTimeout("no connection free")) == (
        "registry timed out: no connection free"
    )
