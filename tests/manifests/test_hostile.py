"""Hostile manifests: alias bombs, deep nesting, merge keys, huge durations, links leaving the repository and
expressions that do not parse all end `kargo-actions validate` with exit 2, FILE:LINE and no traceback, fast.

Each case runs the real command in a subprocess (start-up included) in a git repository made in tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifest_files import repository_root, settings_candidates
from kargo_actions.manifest_yaml.limits import MAX_ALIAS_NODES, MAX_DEPTH
from kargo_actions.manifest_yaml.roundtrip import _LinearScanner
from kargo_actions.manifests import load_project, load_settings
from tests.expressions.test_language import CASES, Err
from tests.expressions.test_templates import TEMPLATE_CASES
from tests.manifests.test_robustness import CORPUS, ODD_DOCUMENTS, _mutations

# Generous for a loaded CI machine; the real figures are about 0.3 s, start-up included.
WALL_LIMIT_S = 5.0
HEAD = "apiVersion: kargo.akuity.io/v1alpha1\n"
WAREHOUSE = HEAD + "kind: Warehouse\nmetadata:\n  name: guestbook\nspec:\n"
SUBSCRIPTION = "  subscriptions:\n  - image:\n      repoURL: ghcr.io/akuity/guestbook\n"
TASK = (
    HEAD + "kind: PromotionTask\nmetadata:\n  name: promote\nspec:\n  steps:\n  - uses: fail\n    config:\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".kargo").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def validate(repo: Path, *command: str) -> tuple[int, str]:
    """`kargo-actions validate` (or another command) in the repository: its exit code and stderr, checked for
    time and traceback."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "kargo_actions", "--repo", str(repo), *(command or ("validate",))],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - start
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert elapsed < WALL_LIMIT_S, f"validate took {elapsed:.2f} s"
    return result.returncode, result.stderr


def refused(repo: Path, *expected: str) -> str:
    code, err = validate(repo)
    assert code == 2, err
    for text in expected:
        assert text in err
    return err


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\n{HEAD}kind: Stage\nmetadata:\n  name: test\nspec: *a{levels}\n"


def test_billion_laughs(repo: Path) -> None:
    (repo / ".kargo" / "bomb.yaml").write_text(alias_bomb())
    # a0 to a4 stay within the budget; the first alias of a5 (line 6, column 10) goes over it.
    refused(repo, f".kargo/bomb.yaml:6:10: invalid YAML: aliases expand to more than {MAX_ALIAS_NODES} nodes")


def test_alias_budget_is_per_file_not_per_document(repo: Path) -> None:
    # Each document alone is modest (an anchor of 100 nodes aliased 100 times); eleven in one file are not.
    document = TASK + "      big: &big [" + ", ".join(["x"] * 99) + "]\n"
    document += "      again: [" + ", ".join(["*big"] * 100) + "]\n---\n"
    (repo / ".kargo" / "many.yaml").write_text(document * 11)
    refused(repo, ".kargo/many.yaml:120:15:", "aliases expand to more than")  # 11 lines a document: the 11th


def test_recursive_alias(repo: Path) -> None:
    (repo / ".kargo" / "loop.yaml").write_text(TASK + "      self: &self\n        again: *self\n")
    refused(repo, ".kargo/loop.yaml:10:16: invalid YAML: alias *self is inside the node it names")


@pytest.mark.parametrize(
    ("nesting", "where"),
    [
        ("[" * 20_000 + "]" * 20_000, "9:111:"),  # flow style, one line
        ("".join(f"\n{'  ' * (i + 4)}k{i}:" for i in range(150)) + " x", "104:197:"),  # block style
    ],
    ids=["flow", "block"],
)
def test_deep_nesting(repo: Path, nesting: str, where: str) -> None:
    (repo / ".kargo" / "deep.yaml").write_text(TASK + "      message: " + nesting + "\n")
    refused(repo, f".kargo/deep.yaml:{where}", f"nested deeper than {MAX_DEPTH} levels")


def test_deep_settings_stop_a_ledger_command_with_exit_2(repo: Path) -> None:
    # Ledger commands read the Settings document on their own, first without the models.
    settings = "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: s\nspec:\n"
    (repo / ".kargo" / "settings.yaml").write_text(
        settings + "  environments: " + "[" * 5000 + "]" * 5000 + "\n"
    )
    code, err = validate(repo, "freight", "list")
    assert code == 2
    assert ".kargo/settings.yaml:6:" in err


def test_deep_nesting_through_aliases(repo: Path) -> None:
    # No line nests past 70 levels; the second anchor holds the first inside 70 more once expanded.
    text = "a: &a " + "[" * 70 + "x" + "]" * 70 + "\n" + "b: &b " + "[" * 70 + "*a" + "]" * 70 + "\n"
    (repo / ".kargo" / "deep.yaml").write_text(text + TASK + "      message: *b\n")
    refused(repo, ".kargo/deep.yaml:2:77: invalid YAML: alias *a nests the document deeper than")


@pytest.mark.parametrize(
    "merge",
    ["<<: *image", "<<: [*base, *image]", "<<:\n      - *base\n      - *image"],
    ids=["alias", "list", "block-list"],
)
def test_merge_key_bringing_an_unknown_field(repo: Path, merge: str) -> None:
    (repo / ".kargo" / "w.yaml").write_text(
        WAREHOUSE
        + "  subscriptions:\n"
        + "  - git: &base\n      repoURL: https://github.com/akuity/guestbook.git\n"
        + "  - image: &image\n      repoURL: ghcr.io/akuity/guestbook\n      stratgy: SemVer\n"
        + f"  - image:\n      {merge}\n      repoURL: ghcr.io/akuity/guestbook-ui\n"
    )
    err = refused(
        repo,
        ".kargo/w.yaml:11:7: spec.subscriptions[1].image.stratgy: unknown field",  # where the anchor writes it
        ".kargo/w.yaml:13:7: spec.subscriptions[2].image.stratgy: unknown field",  # at the merge that brings it
    )
    assert err.count("error: ") == 2


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("warehouse", WAREHOUSE + "  interval: 99999999999999999999h\n" + SUBSCRIPTION, "6:3: spec.interval"),
        (
            "stage",
            WAREHOUSE
            + SUBSCRIPTION
            + "---\n"
            + HEAD
            + "kind: Stage\nmetadata:\n  name: test\nspec:\n  requestedFreight:\n"
            + "  - origin: {kind: Warehouse, name: guestbook}\n"
            + "    sources: {direct: true, requiredSoakTime: 9999999999999h}\n",
            "17:29: spec.requestedFreight[0].sources.requiredSoakTime",
        ),
        (
            "retry",
            HEAD + "kind: PromotionTask\nmetadata:\n  name: promote\nspec:\n  steps:\n  - uses: fail\n"
            "    retry: {timeout: 100000000000000000000000000000ns}\n",
            "8:13: spec.steps[0].retry.timeout",
        ),
        (
            "analysis",
            "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: smoke\nspec:\n"
            "  metrics:\n  - name: up\n    initialDelay: 2562048h\n"
            "    provider: {web: {url: 'http://127.0.0.1:8080/health'}}\n",
            "8:5: spec.metrics[0].initialDelay",
        ),
        (
            "settings",
            "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: settings\nspec:\n"
            "  promotionLease: 99999999999999999999m\n",
            "6:3: spec.promotionLease",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v and ":" not in v else "",
)
def test_duration_too_large(repo: Path, name: str, text: str, where: str) -> None:
    (repo / ".kargo" / f"{name}.yaml").write_text(text)
    refused(repo, f".kargo/{name}.yaml:{where}: invalid duration", "longer than Go's largest duration")


def test_file_link_leaving_the_repository(repo: Path) -> None:
    outside = repo.parent / "outside.yaml"
    outside.write_text(WAREHOUSE + SUBSCRIPTION)
    (repo / ".kargo" / "w.yaml").symlink_to(outside)
    refused(repo, f".kargo/w.yaml: a link to {outside}, outside the repository")


def test_folder_link_leaving_the_repository(repo: Path) -> None:
    outside = repo.parent / "elsewhere"
    outside.mkdir()
    (outside / "w.yaml").write_text(WAREHOUSE + SUBSCRIPTION)
    (repo / ".kargo" / "shared").symlink_to(outside)
    (repo / ".kargo" / "bad.yaml").write_text(WAREHOUSE + "  interval: nope\n" + SUBSCRIPTION)
    # Reported with the other problems, and nothing behind the link is read.
    err = refused(repo, f".kargo/shared: a link to {outside}, outside the repository", ".kargo/bad.yaml:6:3")
    assert "w.yaml" not in err


def test_config_dir_that_is_a_link_leaving_the_repository(repo: Path) -> None:
    outside = repo.parent / "kargo"
    outside.mkdir()
    (outside / "w.yaml").write_text(WAREHOUSE + SUBSCRIPTION)
    (repo / ".kargo").rmdir()
    (repo / ".kargo").symlink_to(outside)
    refused(repo, f".kargo: a link to {outside}, outside the repository")


def test_links_inside_the_repository_are_read(repo: Path) -> None:
    (repo / "common" / "nested").mkdir(parents=True)
    (repo / "common" / "nested" / "w.yaml").write_text(WAREHOUSE + SUBSCRIPTION)
    (repo / "task.yaml").write_text(TASK + "      message: hi\n")
    (repo / ".kargo" / "common").symlink_to("../common")
    (repo / ".kargo" / "task.yaml").symlink_to("../task.yaml")
    (repo / ".kargo" / "again").symlink_to(".")  # a loop back into the config dir is walked once
    (repo / "common" / "up").symlink_to("..")  # and so is one up to the whole repository
    code, _ = validate(repo)
    assert code == 0
    project = load_project(repo / ".kargo")
    assert (list(project.warehouses), list(project.promotion_tasks)) == (["guestbook"], ["promote"])


def test_settings_linked_from_outside_are_not_read(repo: Path) -> None:
    outside = repo.parent / "settings.yaml"
    outside.write_text("apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: s\nspec: {}\n")
    (repo / ".kargo" / "settings.yaml").symlink_to(outside)
    assert settings_candidates(repo / ".kargo") == []  # the ledger commands' plain reading skips it
    with pytest.raises(InvalidInputError) as caught:
        load_settings(repo / ".kargo")
    assert "outside the repository" in caught.value.lines()[0]


def test_repository_root_is_the_git_work_tree_else_the_config_dir(repo: Path, tmp_path: Path) -> None:
    (repo / ".kargo" / "sub").mkdir()
    assert repository_root(repo / ".kargo" / "sub") == repo.resolve()
    plain = tmp_path / "plain" / ".kargo"
    plain.mkdir(parents=True)
    assert repository_root(plain) == plain.resolve()


STAGE = (
    WAREHOUSE
    + SUBSCRIPTION
    + "---\n"
    + HEAD
    + """kind: Stage
metadata:
  name: test
spec:
  vars:
  - name: base
    value: ${{ ctx.stage + }}
  requestedFreight:
  - origin: {kind: Warehouse, name: guestbook}
    sources: {direct: true}
  promotionTemplate:
    spec:
      vars:
      - name: branch
        value: stage/${{ ctx.stage
      steps:
      - task:
          name: promote
        vars:
        - name: repoURL
          value: ${{ vars.base | }}
      - uses: fail
        if: ${{ success() && }}
        config:
          message:
            deep:
            - ok ${{ vars.branch }}
            - '${% {"a": [1, 2} %}'
"""
)
PROMOTION_TASK = (
    HEAD
    + """kind: PromotionTask
metadata:
  name: promote
spec:
  vars:
  - name: repoURL
  - name: path
    value: ./out/${{ 1 + }}
  steps:
  - uses: git-clone
    if: ${{ (true }}
    vars:
    - name: local
      value: ${{ vars.path. }}
    config:
      repoURL: ${{ vars.repoURL }}
      checkout:
      - branch: ${{ "main" "dev" }}
        path: ./out
"""
)


def test_expression_syntax_errors_everywhere_at_once(repo: Path) -> None:
    (repo / ".kargo" / "stage.yaml").write_text(STAGE)
    (repo / ".kargo" / "task.yaml").write_text(PROMOTION_TASK)
    (repo / ".kargo" / "w.yaml").write_text(WAREHOUSE + "  interval: nope\n" + SUBSCRIPTION)
    err = refused(
        repo,
        ".kargo/stage.yaml:17:12: spec.vars[0].value: invalid expression: unexpected end of expression,"
        " at column 17 of '${{ ctx.stage + }}'",
        ".kargo/stage.yaml:25:16: spec.promotionTemplate.spec.vars[0].value: invalid expression: unclosed",
        ".kargo/stage.yaml:31:18: spec.promotionTemplate.spec.steps[0].vars[0].value: invalid expression:",
        ".kargo/stage.yaml:33:13: spec.promotionTemplate.spec.steps[1].if: invalid expression:",
        ".kargo/stage.yaml:38:15: spec.promotionTemplate.spec.steps[1].config.message.deep[1]: invalid"
        " expression: unexpected '}', at column 16 of '${% {\"a\": [1, 2} %}'",
        ".kargo/task.yaml:9:12: spec.vars[1].value: invalid expression:",
        ".kargo/task.yaml:12:9: spec.steps[0].if: invalid expression:",
        ".kargo/task.yaml:15:14: spec.steps[0].vars[0].value: invalid expression:",
        ".kargo/task.yaml:19:17: spec.steps[0].config.checkout[0].branch: invalid expression: unexpected '\"dev\"'",
        ".kargo/w.yaml:6:3: spec.interval: invalid duration",  # the other problems come in the same run
    )
    assert err.count("invalid expression") == 9


def test_valid_expressions_validate_cleanly(tmp_path: Path) -> None:
    # Every expression and template of the language's own tables that parses (evaluation errors aside) passes.
    texts = [text for text, expected in TEMPLATE_CASES if expected is not Exception]
    texts += [
        f"${{{{ {expression} }}}}"
        for expression, expected in CASES
        if "}}" not in expression and not (isinstance(expected, Err) and _is_syntax_error(expression))
    ]
    config = "".join(f"      e{i}: {_yaml_string(text)}\n" for i, text in enumerate(texts))
    (tmp_path / "task.yaml").write_text(TASK + config)
    project = load_project(tmp_path)
    assert len(texts) > 250
    assert project.promotion_tasks["promote"].spec.steps[0].config == {
        f"e{i}": t for i, t in enumerate(texts)
    }


def _is_syntax_error(expression: str) -> bool:
    from kargo_actions.expressions import ExpressionError, compile_expression

    try:
        compile_expression(expression)
    except ExpressionError:
        return True
    return False


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_anchors_in_moderation_still_load(tmp_path: Path) -> None:
    # One step list anchored in the first Stage and aliased by 30 others: what Kargo users write.
    steps = "".join(
        f"      - uses: fail\n        as: s{i}\n        config: {{message: step {i}}}\n" for i in range(40)
    )
    stages = []
    for i in range(31):
        body = ("&steps\n" + steps) if i == 0 else "*steps\n"
        stages.append(
            HEAD + f"kind: Stage\nmetadata:\n  name: s{i}\nspec:\n  requestedFreight:\n"
            "  - origin: {kind: Warehouse, name: guestbook}\n    sources: {direct: true}\n"
            f"  promotionTemplate:\n    spec:\n      steps: {body}"
        )
    # Anchors live within one document: repeat the anchor per document, as YAML requires.
    documents = [WAREHOUSE + SUBSCRIPTION]
    documents += [s.replace("steps: *steps\n", "steps: &steps\n" + steps) for s in stages[:1]]
    documents += [s.replace("steps: *steps\n", "steps:\n" + steps) for s in stages[1:]]
    (tmp_path / "all.yaml").write_text("---\n".join(documents))
    aliased = (
        HEAD + "kind: PromotionTask\nmetadata:\n  name: t\nspec:\n  steps:\n  - uses: fail\n    config:\n"
    )
    aliased += "      base: &base {" + ", ".join(f"k{i}: v{i}" for i in range(100)) + "}\n"
    aliased += "".join(f"      copy{i}: *base\n" for i in range(300))  # 30000 nodes through aliases
    (tmp_path / "task.yaml").write_text(aliased)
    project = load_project(tmp_path)
    assert len(project.stages) == 31
    assert len(project.promotion_tasks["t"].spec.steps[0].config or {}) == 301


def _tokens(text: str, scanner: type | None) -> object:
    yaml = YAML(typ="rt")
    if scanner is not None:
        yaml.Scanner = scanner
    try:
        return [(type(t).__name__, getattr(t, "value", None), t.start_mark.index) for t in yaml.scan(text)]
    except YAMLError as err:
        return str(err)


def test_the_linear_scanner_reads_what_ruamel_reads() -> None:
    # The scanner's shortcut (no walk over every pending key per token) must not change a single token.
    # ruamel's own scanner needs seconds for the 3000-deep corpus file: a 40-deep line stands in for it.
    sources = [p.read_bytes() for p in sorted(CORPUS.glob("*.yaml")) if "deep-nesting" not in p.name]
    sources += ODD_DOCUMENTS + _mutations(200)
    sources.append(("[a, {b: [c, {d: e}]}, " * 40 + "x" + "]}" * 40).encode())
    texts = [s.decode("utf-8", "replace") for s in sources]
    for text in texts:
        assert _tokens(text, _LinearScanner) == _tokens(text, None), text[:200]


def test_promote_stops_at_a_syntax_error_in_a_later_step_before_the_first_runs(tmp_path: Path) -> None:
    from tests.ledger.helpers import make_repo
    from tests.promotion.test_service import STEP, manifests, record, remote_log, run, write

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    docs = manifests()
    later = {"uses": "compose-output", "as": "later", "config": {"x": "${{ vars.nope + }}"}}
    docs[2]["spec"]["promotionTemplate"]["spec"]["steps"] = [*STEP, later]
    write(repo, docs)
    record(repo, 1, 1)
    before = remote_log(tmp_path)
    code, _, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1")
    assert code == 2
    assert ".kargo/02.yaml:" in err
    assert (
        "spec.promotionTemplate.spec.steps[1].config.x: invalid expression: unexpected end of expression"
        in err
    )
    assert remote_log(tmp_path) == before  # no promotion was started or recorded
