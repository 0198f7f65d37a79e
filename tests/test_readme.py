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


def test_readme_reads_as_a_guide_in_order() -> None:
    headings = re.findall(r"^## (.+)$", README, re.MULTILINE)
    assert headings == ["In 30 seconds", "One-minute tour", "Set-up", "Where to go next"]
    intro = README.split("## ", 1)[0]
    assert "Kargo" in intro
    assert "GitHub Actions" in intro


def test_the_picture_is_the_dashboard_and_a_real_job_summary() -> None:
    picture = README.split("## In 30 seconds", 1)[1].split("\n## ", 1)[0]
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", picture)
    assert images == ["docs/dashboard.png"]
    assert (ROOT / images[0]).is_file()
    # the excerpt's tables are the ones promote writes to the job summary
    source = (ROOT / "kargo_actions" / "cli" / "promote.py").read_text(encoding="utf-8")
    table_header = "| Stage | Freight | Result | Promotion | Detail |"
    assert f"> {table_header}" in picture
    assert table_header in source
    assert "> ### kargo-actions promotions" in picture


def test_the_assemble_example_uses_the_image_the_bundled_example_watches() -> None:
    from ruamel.yaml import YAML

    [line] = [t for t in tour_lines() if " freight assemble " in t]
    words = shlex.split(line)
    warehouse = words[words.index("--warehouse") + 1]
    image = words[words.index("--image") + 1]
    doc = YAML(typ="safe").load((ROOT / "examples/image-updater/.kargo/warehouse.yaml").read_text())
    assert doc["metadata"]["name"] == warehouse
    watched = [s["image"]["repoURL"] for s in doc["spec"]["subscriptions"] if "image" in s]
    assert image.split(":1.")[0] in watched, (image, watched)


def test_the_readme_says_when_freight_tags_are_signed() -> None:
    assert "signed Freight" not in README
    flat = " ".join(README.split())
    assert "Freight tags are signed only when git has a signing key configured" in flat
    assert "`--sign required`" in flat


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_every_docs_page_opens_with_what_the_reader_can_do(page: str) -> None:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    title, rest = text.split("\n", 1)
    assert title.startswith("# ")
    first = rest.strip().split("\n\n", 1)[0]
    assert re.match(r"After reading this (page )?you can ", first), f"docs/{page} opens with: {first[:80]}"
