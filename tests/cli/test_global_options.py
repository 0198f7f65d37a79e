"""The global options (--repo, --config-dir, --output, --debug) work before the command name and after it,
for commands and for the commands of a group; a command's own option of the same name keeps its meaning."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import click
import pytest

from kargo_actions.cli.main import main
from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, record, write


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as done:
            code = int(done.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(path, manifests())
    record(path, 1, 1)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["--repo", "{repo}", "--output", "json", "status"],
        ["status", "--repo", "{repo}", "--output", "json"],
        ["--repo", "{repo}", "status", "-o", "json"],
        ["status", "--output=json", "--repo={repo}"],
    ],
    ids=["before", "after", "mixed", "equals"],
)
def test_status_takes_them_in_either_place(repo: Path, args: list[str]) -> None:
    code, out, err = cli(*(a.replace("{repo}", str(repo)) for a in args))
    assert code == 0, err
    assert [s["stage"] for s in json.loads(out)] == ["broken", "dev", "staging", "prod"]


def test_a_group_command_and_config_dir_after_the_name(repo: Path) -> None:
    (repo / ".kargo").rename(repo / "pipeline")
    code, out, err = cli("freight", "list", "--repo", str(repo), "--config-dir", "pipeline", "-o", "json")
    assert code == 0, err
    assert [f["alias"] for f in json.loads(out)] == ["f-1"]
    code, out, err = cli("validate", "--repo", str(repo), "--config-dir", "pipeline")
    assert code == 0, err
    code, _, err = cli("validate", "--repo", str(repo))  # .kargo is gone: the late --repo was read
    assert code == 2
    assert "config dir does not exist" in err


def test_the_value_after_the_name_wins(repo: Path, tmp_path: Path) -> None:
    code, out, err = cli("--repo", str(tmp_path), "-o", "text", "status", "--repo", str(repo), "-o", "json")
    assert code == 0, err
    assert json.loads(out)[0]["stage"] == "broken"


def test_debug_after_the_name_shows_the_traceback(repo: Path) -> None:
    code, _, err = cli("validate", "--repo", str(repo), "--config-dir", "nowhere")
    assert code == 2
    assert "Traceback" not in err
    with pytest.raises(Exception, match="config dir does not exist"):
        cli("validate", "--repo", str(repo), "--config-dir", "nowhere", "--debug")


def test_a_commands_own_option_keeps_its_meaning() -> None:
    from kargo_actions.cli.main import cli as group

    ctx = group.make_context("kargo-actions", ["discover", "--help"], resilient_parsing=True)
    discover = group.get_command(ctx, "discover")
    assert discover is not None
    outputs = [p for p in discover.params if "--output" in p.opts]
    assert len(outputs) == 1
    assert outputs[0].expose_value  # discover's own --output, not a hidden copy
    help_text = discover.get_help(click.Context(discover, info_name="discover"))
    assert "--repo" not in help_text  # the copies stay out of each command's help
