"""The README's one-minute tour names real commands and options, and its two set-up commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from kargo_actions.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def tour_lines() -> list[str]:
    tour = README.split("## One-minute tour", 1)[1].split("```", 2)[1]
    lines, pending = [], ""
    for raw in tour.splitlines():
        line = pending + raw.strip().removeprefix("$ ")
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("kargo-actions"):
            lines.append(line.split("  #", 1)[0].strip())
    return lines


def test_the_tour_is_not_empty() -> None:
    assert len(tour_lines()) >= 10


@pytest.mark.parametrize("line", tour_lines())
def test_tour_commands_and_options_exist(line: str) -> None:
    ctx = click.Context(cli)
    command: click.Command = cli
    params = {name: p for p in cli.params for name in getattr(p, "opts", [])}  # global options
    words = shlex.split(line)[1:]
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("-"):
            param = params.get(word.split("=", 1)[0])
            assert param is not None, f"{line}: {word} is no option of {command.name}"
            if isinstance(param, click.Option) and not param.is_flag and "=" not in word:
                index += 1  # its value
        elif isinstance(command, click.Group):
            sub = command.get_command(ctx, word)
            assert sub is not None, f"{line}: no command {word!r}"
            command = sub
            params |= {name: p for p in command.params for name in getattr(p, "opts", [])}
    assert not isinstance(command, click.Group), f"{line}: {command.name} needs a subcommand"


def test_exactly_two_set_up_commands_and_they_exist() -> None:
    setup = README.split("## Set-up", 1)[1].split("## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", setup, re.DOTALL)
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in ci  # CI runs the README's test command


def test_readme_lists_every_system_package_the_tests_install() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    packages = re.search(r"system_packages=\(([^)]*)\)", script)
    assert packages is not None
    for package in packages.group(1).split():
        assert f"`{package}`" in README, f"README does not name the Debian package {package}"
