"""`kargo-actions freight list|show|verify|alias` end to end on a real repository."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kargo_actions.cli.main import main
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.records import ApprovedFreight, CurrentFreight, VerifiedFreight
from kargo_actions.model.freight import FreightOrigin
from tests.ledger.helpers import git, make_freight, make_repo


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        for n, alias, warehouse in ((1, "brave-otter", "app"), (2, "calm-heron", "infra")):
            freight = make_freight(n, alias=alias, warehouse=warehouse)
            meta = freight.metadata.model_copy(update={"creation_timestamp": f"2026-01-0{n}T00:00:00Z"})
            ledger.record_freight(freight.model_copy(update={"metadata": meta}))
        two = ledger.get_freight("calm-heron")
        ledger.update_stage_state(
            "dev",
            lambda s: s.model_copy(
                update={
                    "current_freight": [
                        CurrentFreight(
                            name=two.name, origin=FreightOrigin(name="infra"), since="2026-01-01T00:00:00Z"
                        )
                    ]
                }
            ),
        )
    return repo


def test_list_json_is_kargo_freight_resources(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "json", "freight", "list")
    assert code == 0
    items = json.loads(out)
    assert [(i["apiVersion"], i["kind"], i["alias"]) for i in items] == [
        ("kargo.akuity.io/v1alpha1", "Freight", "brave-otter"),
        ("kargo.akuity.io/v1alpha1", "Freight", "calm-heron"),
    ]
    assert items[1]["status"] == {"currentlyIn": {"dev": {"since": "2026-01-01T00:00:00Z"}}}
    assert "schemaVersion" not in items[0]


@pytest.mark.parametrize(
    ("filters", "aliases"),
    [
        ((), ["brave-otter", "calm-heron"]),
        (("--warehouse", "app"), ["brave-otter"]),
        (("--stage", "dev"), ["calm-heron"]),
        (("--stage", "prod"), []),
    ],
)
def test_list_filters(
    repo: Path, capsys: pytest.CaptureFixture[str], filters: tuple[str, ...], aliases: list[str]
) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "json", "freight", "list", *filters)
    assert code == 0
    assert [i["alias"] for i in json.loads(out)] == aliases


def test_list_text_is_a_table(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "freight", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ALIAS", "ID", "WAREHOUSE", "CREATED", "ARTIFACTS", "STAGES"]
    assert "calm-heron" in lines[2]
    assert lines[2].rstrip().endswith("dev*")
    assert lines[-1] == "STAGES: NAME* = the Stage holds it now; NAME alone = verified there before"


def test_show_by_alias_prefix_and_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    freight_name = make_freight(1).name
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "json", "freight", "show", "brave-otter")
    assert (code, json.loads(out)["metadata"]["name"]) == (0, freight_name)
    code, out, _ = run(capsys, "--repo", str(repo), "freight", "show", freight_name[:10])
    assert code == 0
    assert "brave-otter" in out
    assert f"kargo/freight/app/{freight_name}" in out
    code, _, err = run(capsys, "--repo", str(repo), "freight", "show", "brave-otr")
    assert code == 2
    assert "no Freight matches 'brave-otr'" in err
    assert "did you mean brave-otter" in err


def test_alias_command_records_and_refuses_duplicates(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "freight", "alias", "brave-otter", "bold-otter")
    assert code == 0
    assert "is now bold-otter" in out
    code, _, err = run(capsys, "--repo", str(repo), "freight", "alias", "bold-otter", "calm-heron")
    assert code == 2
    assert "already used" in err
    assert "alias" in git(repo, "log", "-1", "--format=%s", "kargo/ledger")


def test_verify_exit_codes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--repo", str(repo), "freight", "verify", "--all")
    assert code == 3  # unsigned under the default policy auto
    assert "0 of 2 Freight verified" in out
    assert "brave-otter" in err
    code, out, _ = run(
        capsys, "--repo", str(repo), "-o", "json", "freight", "verify", "--sign", "never", "brave-otter"
    )
    assert code == 0
    (result,) = json.loads(out)
    assert (result["alias"], result["ok"], result["findings"]) == ("brave-otter", True, ["unsigned"])
    git(repo, "tag", "-d", f"kargo/freight/app/{make_freight(1).name}")
    code, out, _ = run(capsys, "--repo", str(repo), "freight", "verify", "--sign", "never")
    assert code == 3
    assert "missing-tag" in out


def test_cli_outside_a_repository_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--repo", str(tmp_path), "freight", "list")
    assert code == 2
    assert "not a git repository" in err


def test_help_lists_subcommands() -> None:
    cmd = [sys.executable, "-m", "kargo_actions", "freight", "--help"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for name in ("list", "show", "verify", "alias"):
        assert f"  {name} " in out


MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata: {name: shop}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app, namespace: shop}
spec:
  subscriptions:
  - image: {repoURL: ghcr.io/example/app}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: infra, namespace: shop}
spec:
  subscriptions:
  - image: {repoURL: ghcr.io/example/app}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: shop}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {direct: true}
  - origin: {kind: Warehouse, name: infra}
    sources: {direct: true}
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config: {done: "yes"}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: qa, namespace: shop}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {stages: [dev]}
  - origin: {kind: Warehouse, name: infra}
    sources: {stages: [dev]}
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config: {done: "yes"}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: prod, namespace: shop}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {stages: [dev, qa], availabilityStrategy: All}
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config: {done: "yes"}
"""


@pytest.mark.parametrize(
    ("stage", "aliases"),
    [
        ("dev", ["brave-otter", "calm-heron"]),  # direct from both Warehouses
        ("qa", []),  # calm-heron is in dev but not verified there yet
        ("prod", ["brave-otter"]),  # approved for prod, which skips verification
    ],
)
def test_list_available_for(
    repo: Path, capsys: pytest.CaptureFixture[str], stage: str, aliases: list[str]
) -> None:
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(MANIFESTS)
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        one = ledger.get_freight("brave-otter")
        ledger.update_stage_state(
            "prod",
            lambda s: s.model_copy(
                update={"approved": {one.name: ApprovedFreight(approved_at="2026-01-03T00:00:00Z")}}
            ),
        )
    code, out, err = run(
        capsys, "--repo", str(repo), "-o", "json", "freight", "list", "--available-for", stage
    )
    assert code == 0, err
    assert [i["alias"] for i in json.loads(out)] == aliases


def test_list_available_for_verified_upstream(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(MANIFESTS)
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        two = ledger.get_freight("calm-heron")
        ledger.update_stage_state(
            "dev",
            lambda s: s.model_copy(
                update={"verified": {two.name: VerifiedFreight(verified_at="2026-01-02T00:00:00Z")}}
            ),
        )
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "json", "freight", "list", "--available-for", "qa")
    assert [i["alias"] for i in json.loads(out)] == ["calm-heron"]
    code, _, err = run(capsys, "--repo", str(repo), "freight", "list", "--available-for", "nope")
    assert code == 2
    assert "no Stage 'nope'" in err


def test_long_lists_use_plain_aligned_columns(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kargo_actions.cli import freight as freight_cli

    code, rich_out, _ = run(capsys, "--repo", str(repo), "freight", "list")
    monkeypatch.setattr(freight_cli, "RICH_MAX_ROWS", 0)
    code, plain_out, _ = run(capsys, "--repo", str(repo), "freight", "list")
    assert code == 0
    assert [line.split() for line in plain_out.splitlines()] == [
        line.split() for line in rich_out.splitlines()
    ]


def test_list_available_for_applies_soak_and_control_flow(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real gates: a control-flow Stage passes on what it can take; soak time holds Freight back."""
    extra = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: hub, namespace: shop}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: infra}
    sources: {direct: true}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: edge, namespace: shop}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: infra}
    sources: {stages: [hub]}
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config: {done: "yes"}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: slow, namespace: shop}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: infra}
    sources: {stages: [edge], requiredSoakTime: 1h}
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config: {done: "yes"}
"""
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(MANIFESTS + extra)
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        two = ledger.get_freight("calm-heron")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ledger.update_stage_state(
            "edge",
            lambda s: s.model_copy(update={"verified": {two.name: VerifiedFreight(verified_at=now)}}),
        )
    listed = {}
    for stage in ("edge", "slow"):
        code, out, err = run(
            capsys, "--repo", str(repo), "-o", "json", "freight", "list", "--available-for", stage
        )
        assert code == 0, err
        listed[stage] = [i["alias"] for i in json.loads(out)]
    assert listed == {"edge": ["calm-heron"], "slow": []}


@pytest.mark.parametrize(
    ("rows", "plain"),
    [
        (
            [("ID", "a" * 40), ("Alias", ""), ("Warehouse", "app"), ("Tag", "kargo/freight/app/" + "a" * 40)],
            True,
        ),
        (
            [("Image", "ghcr.io/x/app:1.2.3@sha256:" + "0" * 64), ("Commit", "https://h:8443/r.git v1 abc")],
            True,
        ),
        (
            [("In stage", "dev since 2026-01-01T00:00:00Z"), ("Verified in", "dev at t, longest soak 1h")],
            True,
        ),
        ([("Chart", "oci://registry.example.com/charts app 1.0." + "9" * 340)], True),  # 389 columns
        ([("Chart", "oci://registry.example.com/charts app 1.0." + "9" * 400)], False),  # folded by rich
        ([("Commit", "https://[::1]:8443/r.git [bold]v1[/bold] abc")], False),  # markup for rich
    ],
)
def test_show_piped_prints_what_rich_prints(
    rows: list[tuple[str, str]],
    plain: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # freight show skips importing rich when piped: its text must be rich's to the byte.
    import io

    from rich.console import Console
    from rich.table import Table

    from kargo_actions.cli.freight import PIPE_WIDTH, _print_pairs

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    expected = io.StringIO()
    Console(file=expected, soft_wrap=False, width=PIPE_WIDTH).print(table)
    if plain:
        monkeypatch.setitem(sys.modules, "rich.table", None)  # rich must not be needed
    _print_pairs(rows)
    assert capsys.readouterr().out == expected.getvalue()
