"""`freight show` reads records without the models when their schemas vouch for them, and answers the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.cli.ledger_options import plain_ledger_config
from kargo_actions.cli.main import main
from kargo_actions.freight.identity import freight_id
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy, WritePlan
from kargo_actions.ledger.reader import LedgerRepo
from kargo_actions.ledger.records import (
    ApprovedFreight,
    CurrentFreight,
    FreightRecord,
    StageStateRecord,
    VerifiedFreight,
    dump_record,
    freight_path,
)
from kargo_actions.model.freight import Chart, Freight, FreightMetadata, FreightOrigin, GitCommit, Image
from kargo_actions.model.ledger_names import LEDGER_ENV_VARS
from kargo_actions.model.settings import Settings
from tests.ledger.helpers import make_freight, make_repo

NEVER = LedgerConfig(signing=SigningPolicy.NEVER)


def rich_freight() -> Freight:
    origin = FreightOrigin(name="app")
    images = [
        Image(repo_url="ghcr.io/x/app", tag="1.2.3", digest="sha256:" + "a" * 64, annotations={"k": "v"})
    ]
    commits = [GitCommit(repo_url="https://g.example/r.git", id="b" * 40, branch="main", message="fix")]
    charts = [Chart(repo_url="oci://charts.example/c", name="app", version="0.1.0")]
    name = freight_id(origin, images=images, commits=commits, charts=charts)
    return Freight(
        metadata=FreightMetadata(
            name=name, creation_timestamp="2026-02-01T00:00:00Z", labels={"team": "web"}
        ),
        alias="busy-lark",
        origin=origin,
        images=images,
        commits=commits,
        charts=charts,
        discovered_at="2026-02-01T00:00:00Z",
    )


FID = rich_freight().name


def state(stage: str, fid: str, *, current: bool, verified: bool, approved: bool) -> Any:
    def change(s: StageStateRecord) -> StageStateRecord:
        update: dict[str, Any] = {}
        if current:
            update["current_freight"] = [
                CurrentFreight(
                    name=fid, origin=FreightOrigin(name="app"), since=f"2026-02-0{len(stage)}T00:00:00Z"
                )
            ]
        if verified:
            update["verified"] = {
                fid: VerifiedFreight(verified_at="2026-02-03T00:00:00Z", longest_soak="1h0m0s")
            }
        if approved:
            update["approved"] = {fid: ApprovedFreight(approved_at="2026-02-04T00:00:00Z", actor="ana")}
        return s.model_copy(update=update)

    return change


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, NEVER) as ledger:
        ledger.record_freight(rich_freight())
        ledger.record_freight(make_freight(1, alias="brave-otter"))
        fid = rich_freight().name
        ledger.update_stage_state("dev", state("dev", fid, current=True, verified=True, approved=False))
        ledger.update_stage_state("uat", state("uat", fid, current=False, verified=True, approved=True))
        ledger.update_stage_state(
            "prod", state("prod", "0" * 40, current=True, verified=False, approved=False)
        )
    return repo


def show(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(repo), *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def write_raw(repo: Path, path: str, data: bytes) -> None:
    """A file on the ledger branch as some other writer (or a hand edit) left it."""
    with Ledger(repo, NEVER) as ledger:
        ledger.write(lambda _snap: WritePlan(summary="test: raw write", files={path: data}, result=None))


@pytest.mark.parametrize("ref", ["busy-lark", FID, FID[:6], " busy-lark "])
def test_quick_view_is_the_models_wire_form(repo: Path, ref: str) -> None:
    with Ledger(repo, NEVER) as ledger:
        expected = ledger.get_freight(ref).wire()
    with LedgerRepo(repo, NEVER) as quick:
        view = quick.tree().freight_view(ref)
    assert view is not None, "the quick path refused a record the ledger wrote"
    assert json.dumps(view) == json.dumps(expected)  # same keys, same values, same order
    assert view["status"] == {
        "currentlyIn": {"dev": {"since": "2026-02-03T00:00:00Z"}},
        "verifiedIn": {
            "dev": {"verifiedAt": "2026-02-03T00:00:00Z", "longestSoak": "1h0m0s"},
            "uat": {"verifiedAt": "2026-02-03T00:00:00Z", "longestSoak": "1h0m0s"},
        },
        "approvedFor": {"uat": {"approvedAt": "2026-02-04T00:00:00Z"}},
    }


def test_show_text_lists_artifacts_and_stages(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = show(repo, capsys, "freight", "show", "busy-lark")
    assert code == 0
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines == [
        "ID            " + FID,
        "Alias         busy-lark",
        "Warehouse     app",
        "Created       2026-02-01T00:00:00Z",
        "Tag           kargo/freight/app/" + FID,
        "Image         ghcr.io/x/app:1.2.3@sha256:" + "a" * 64,
        "Commit        https://g.example/r.git " + "b" * 40,
        "Chart         oci://charts.example/c app 0.1.0",
        "In stage      dev since 2026-02-03T00:00:00Z",
        "Verified in   dev at 2026-02-03T00:00:00Z, longest soak 1h0m0s",
        "Verified in   uat at 2026-02-03T00:00:00Z, longest soak 1h0m0s",
        "Approved for  uat at 2026-02-04T00:00:00Z",
    ]


def test_a_record_only_the_models_read_is_shown_through_them(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # snake_case keys: the models take them (populate_by_name), the schema does not, so the quick path defers.
    freight = make_freight(1, alias="brave-otter")
    record = json.loads(dump_record(FreightRecord.of(freight)))
    record["images"][0]["repo_url"] = record["images"][0].pop("repoURL")
    write_raw(repo, freight_path("app", freight.name), json.dumps(record).encode())
    with LedgerRepo(repo, NEVER) as quick:
        assert quick.tree().freight_view("brave-otter") is None
    code, out, _ = show(repo, capsys, "-o", "json", "freight", "show", "brave-otter")
    assert code == 0
    assert json.loads(out)["images"] == [freight.wire()["images"][0]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"schemaVersion": 1, "kind": ', "not valid JSON"),
        (
            b'{"schemaVersion": 7, "metadata": {"name": "x"}}',
            "written by a newer kargo-actions (schemaVersion 7",
        ),
        (b'{"schemaVersion": 1, "metadata": {}, "origin": {"name": "app"}}', "metadata.name"),
    ],
)
def test_a_bad_record_is_named_with_what_is_wrong(
    repo: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    fid = make_freight(1).name
    write_raw(repo, freight_path("app", fid), content)
    code, out, err = show(repo, capsys, "freight", "show", "brave-otter")
    assert (code, out) == (2, "")
    assert f"kargo/ledger:freight/app/{fid}.json" in err
    assert message in err
    code, out, _ = show(repo, capsys, "freight", "show", "busy-lark")  # the others stay readable
    assert code == 0


def test_a_bad_stage_record_sends_show_through_the_models(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_raw(repo, "stages/qa.json", b'{"schemaVersion": 1, "stage": "qa", "currentFreight": "oops"}')
    with LedgerRepo(repo, NEVER) as quick:
        assert quick.tree().freight_view("busy-lark") is None
    code, out, _ = show(repo, capsys, "-o", "json", "freight", "show", "busy-lark")
    assert code == 0
    assert set(json.loads(out)["status"]["verifiedIn"]) == {"dev", "uat"}


def test_quick_show_loads_no_models(repo: Path) -> None:
    # What makes `freight show` fast (0.1 s against 0.23 s at 10,000 Freight): pydantic is never imported.
    env = {k: v for k, v in os.environ.items() if k not in LEDGER_ENV_VARS.values()}
    cmd = [sys.executable, "-X", "importtime", "-m", "kargo_actions", "--repo", str(repo), "freight", "show"]
    proc = subprocess.run([*cmd, "busy-lark"], capture_output=True, text=True, env=env, check=True)
    assert "busy-lark" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "kargo_actions.ledger.reader" in imported
    assert not {m for m in imported if m.startswith(("pydantic", "rich", "yaml", "ruamel"))}


SETTING_VALUES = {
    "ledger_branch": [None, "kargo/ledger2", "bad..ref", "", "x.lock"],
    "remote": [None, "", "upstream", "bad remote"],
    "tag_prefix": [None, "rel/freight", "/lead", "a b"],
    "signing": [None, "never", "required", "bogus"],
}


GOOD = {
    "ledger_branch": {"kargo/ledger2"},
    "remote": {"", "upstream"},
    "tag_prefix": {"rel/freight"},
    "signing": {"never", "required"},
}


@pytest.mark.parametrize("field", sorted(SETTING_VALUES))
@pytest.mark.parametrize("source", ["flag", "env"])
def test_plain_ledger_config_agrees_with_the_settings_model(field: str, source: str) -> None:
    from kargo_actions.errors import InvalidInputError

    for value in SETTING_VALUES[field]:
        flags = {field: value} if source == "flag" else {}
        env = {LEDGER_ENV_VARS[field]: value} if source == "env" and value is not None else {}
        plain = plain_ledger_config(env, **flags)
        try:
            spec = Settings().resolved(env, **flags)
            full: LedgerConfig | None = LedgerConfig(
                branch=spec.ledger_branch,
                remote=spec.remote or None,
                tag_prefix=spec.tag_prefix,
                signing=SigningPolicy(spec.signing),
            )
        except (ValueError, InvalidInputError):
            full = None
        if plain is not None:  # None: the model path decides (and names the bad value)
            assert plain == full, (field, source, value)
        elif value is None or value in GOOD[field]:
            pytest.fail(f"a good value went the slow way: {field}={value!r}")


def test_bad_setting_still_gets_the_models_message(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = show(repo, capsys, "freight", "show", "--ledger-branch", "bad..ref", "busy-lark")
    assert code == 2
    assert "ledger_branch" in err or "ledgerBranch" in err
    assert "not a valid git ref name" in err


def test_settings_manifest_names_the_ledger_branch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, LedgerConfig(branch="deploy/ledger", signing=SigningPolicy.NEVER)) as ledger:
        ledger.record_freight(make_freight(1, alias="brave-otter"))
    kargo = repo / ".kargo"
    kargo.mkdir()
    (kargo / "settings.yaml").write_text(
        "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata: {name: settings}\n"
        "spec: {ledgerBranch: deploy/ledger, signing: never}\n"
    )
    # a broken Stage elsewhere does not stop a ledger command: only the Settings document is read
    (kargo / "stage.yaml").write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: x}\nspec: 7\n"
    )
    code, out, err = show(repo, capsys, "freight", "show", "brave-otter")
    assert code == 0, err
    assert "Tag        kargo/freight/app/" in out
    (kargo / "settings.yaml").write_text(
        "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata: {name: settings}\nspec: {signing: always}\n"
    )
    code, _, err = show(repo, capsys, "freight", "show", "brave-otter")
    assert code == 2
    assert "settings.yaml:4:8: spec.signing: must be one of 'never', 'auto' or 'required'" in err


HEAD = "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata: {name: settings}\n"
SETTINGS_DOCS = {
    "minimal": (HEAD, True),
    "ledger fields": (
        HEAD + "spec: {ledgerBranch: deploy/ledger, remote: up, tagPrefix: rel, signing: never}\n",
        True,
    ),
    "local only": (HEAD + "spec: {remote: ''}\n", True),
    "other fields": (HEAD + "spec: {cacheDir: /c, environments: {prod: {waitTimer: 5}}}\n", True),
    "bad signing": (HEAD + "spec: {signing: always}\n", False),
    "bad branch": (HEAD + "spec: {ledgerBranch: 'a..b'}\n", False),
    "remote not text": (HEAD + "spec: {remote: 5}\n", False),
    "prefix not text": (HEAD + "spec: {tagPrefix: [a]}\n", False),
    "misspelt field": (HEAD + "spec: {ledgerbranch: x}\n", False),
    "bad name": (HEAD.replace("name: settings", "name: Bad_Name"), False),
    "wrong apiVersion": (HEAD.replace("kargo-actions/v1alpha1", "kargo-actions/v1"), False),
    "two documents": (HEAD + "---\n" + HEAD.replace("name: settings", "name: more"), False),
    "labels": (HEAD.replace("{name: settings}", "{name: settings, labels: {a: b}}"), None),
}


@pytest.mark.parametrize("case", sorted(SETTINGS_DOCS))
def test_plain_settings_agree_with_the_settings_model(tmp_path: Path, case: str) -> None:
    from kargo_actions.cli.ledger_options import plain_settings
    from kargo_actions.errors import InvalidInputError
    from kargo_actions.manifests import load_settings

    text, valid = SETTINGS_DOCS[case]
    (tmp_path / "settings.yaml").write_text(text)
    try:
        settings = load_settings(tmp_path)
        assert settings is not None
        spec = settings.resolved({})
        model: LedgerConfig | None = LedgerConfig(
            branch=spec.ledger_branch,
            remote=spec.remote or None,
            tag_prefix=spec.tag_prefix,
            signing=SigningPolicy(spec.signing),
        )
    except (InvalidInputError, ValueError):
        model = None
    values = plain_settings(tmp_path)
    plain = None if values is None else plain_ledger_config({}, values)
    if valid is not None:
        assert (model is not None) == valid, case
        assert (plain is not None) == valid, (
            f"{case}: the quick path should {'take' if valid else 'refuse'} it"
        )
    if plain is not None:
        assert plain == model  # never a different answer, only sometimes the model's way to it


def test_plain_settings_know_the_models_names() -> None:
    from kargo_actions.cli.ledger_options import SETTINGS_SPEC_FIELDS
    from kargo_actions.model.settings import SettingsSpec

    assert {f.alias or n for n, f in SettingsSpec.model_fields.items()} == SETTINGS_SPEC_FIELDS


@pytest.mark.parametrize("hidden", [".drafts/settings.yaml", ".settings.yaml"])
def test_hidden_settings_files_are_ignored_by_both_readings(tmp_path: Path, hidden: str) -> None:
    # load_project skips hidden folders and files; the plain reading must skip the same ones
    from kargo_actions.cli.ledger_options import plain_settings
    from kargo_actions.manifests import load_settings

    path = tmp_path / hidden
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + "spec: {ledgerBranch: hidden/ledger}\n")
    assert load_settings(tmp_path) is None
    assert plain_settings(tmp_path) == {}
