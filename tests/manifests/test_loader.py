"""load_project on the real example pipelines, on bad input the corpus cannot hold, and its lookups."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.manifests import known_step_names, load_project
from kargo_actions.promotion import registry
from tests.conftest import shared_path

EXAMPLES = ("kargo-advanced", "kargo-simple", "kargo-quickstart-template", "kargo-demo")

WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: guestbook
spec:
  subscriptions:
  - image:
      repoURL: ghcr.io/akuity/guestbook
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(config_dir: Path, *, strict: bool = False) -> list[str]:
    with pytest.raises(InvalidInputError) as caught:
        load_project(config_dir, strict=strict)
    return caught.value.lines()


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_folder_loads_whole(example: str) -> None:
    # The whole repository folder: Kargo manifests load, Kustomize/Argo CD/Kubernetes files are skipped.
    project = load_project(shared_path("kargo-examples", example))
    assert project.notices, "the examples hold non-Kargo YAML that must be skipped with a notice"
    assert all("skipped" in n for n in project.notices)


def test_kargo_advanced_model() -> None:
    project = load_project(shared_path("kargo-examples", "kargo-advanced", "kargo"))
    assert project.name == "kargo-advanced"
    assert list(project.warehouses) == ["guestbook"]
    image = project.warehouses["guestbook"].subscriptions[0].image
    assert image is not None
    # allowTags (a single regex) is read as allowTagsRegexes, with Kargo's defaults applied around it.
    assert image.allow_tags_regexes == [r"^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$"]
    assert (image.discovery_limit, image.strict_semvers, image.cache_by_tag) == (20, True, False)
    assert project.warehouses["guestbook"].spec.interval == "5m0s"
    git = project.warehouses["guestbook"].subscriptions[1].git
    assert git is not None
    assert git.commit_selection_strategy == "NewestFromBranch"
    assert project.stage_order() == [
        "dev", "staging", "ab-test-a", "ab-test-b", "prod", "prod-central", "prod-east", "prod-west",
    ]  # fmt: skip
    assert project.stages["prod"].is_control_flow
    assert not project.stages["dev"].is_control_flow
    assert project.upstream("prod") == ["ab-test-a", "ab-test-b"]
    assert project.downstream("prod") == ["prod-central", "prod-east", "prod-west"]
    assert project.downstream("staging") == ["ab-test-a", "ab-test-b"]
    assert list(project.promotion_tasks) == ["promote"]
    assert list(project.analysis_templates) == ["pokemon-xp"]
    assert project.settings.spec.ledger_branch == "kargo/ledger"
    [warning] = project.warnings
    assert warning.path == "spec.subscriptions[0].image.allowTags"
    assert (Path(warning.file).name, warning.line, warning.col) == ("warehouse.yaml", 11, 7)
    assert "allowTagsRegexes" in warning.message


def test_strict_turns_the_allow_tags_warning_into_an_error() -> None:
    lines = problems_of(shared_path("kargo-examples", "kargo-advanced", "kargo"), strict=True)
    assert len(lines) == 1
    assert lines[0].endswith(
        "warehouse.yaml:11:7: spec.subscriptions[0].image.allowTags: allowTags is deprecated (Kargo refuses it"
        " at discovery since v1.11): read as allowTagsRegexes (rename it to allowTagsRegexes and make it a list)"
    )


def test_ignore_tags_become_anchored_literal_regexes(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE + "      ignoreTags: [v1.0.0, latest]\n")
    project = load_project(tmp_path)
    image = project.warehouses["guestbook"].subscriptions[0].image
    assert image is not None
    assert image.ignore_tags_regexes == [r"^v1\.0\.0$", "^latest$"]
    assert not image.tag_allowed("v1.0.0")
    assert image.tag_allowed("v1.0.01")
    assert [w.path for w in project.warnings] == ["spec.subscriptions[0].image.ignoreTags"]


def test_missing_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems_of(tmp_path / ".kargo") == [
        ".kargo: config dir does not exist (create it with your Kargo manifests, or pass --config-dir DIR)"
    ]


def test_config_dir_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".kargo").write_text("not a folder")
    assert problems_of(tmp_path / ".kargo") == [".kargo: config dir is not a directory"]


def test_config_dir_without_manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".kargo").mkdir()
    (tmp_path / ".kargo" / "README.md").write_text("# notes")
    assert problems_of(tmp_path / ".kargo") == [".kargo: config dir holds no *.yaml or *.yml file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its mode")
def test_unreadable_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / ".kargo"
    folder.mkdir()
    folder.chmod(0)
    try:
        assert problems_of(folder) == [".kargo: cannot read config dir: Permission denied"]
    finally:
        folder.chmod(0o755)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "w.yaml", WAREHOUSE)
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing-target.yaml")
    assert problems_of(tmp_path) == ["gone.yaml: cannot read file: No such file or directory"]


def test_file_over_ten_megabytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with (tmp_path / "huge.yaml").open("wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # sparse: the size check comes before any read
    assert problems_of(tmp_path) == [
        "huge.yaml: file is 10485761 bytes, over the 10 MB limit for a manifest file"
    ]


def test_every_problem_of_every_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", "")
    write(tmp_path, "b.yaml", WAREHOUSE.replace("guestbook\nspec", "Guestbook\nspec") + "  interval: 5d\n")
    write(tmp_path, "sub/c.yml", WAREHOUSE.replace("ghcr.io/akuity/guestbook", "ghcr.io/a/b:v1"))
    lines = problems_of(tmp_path)
    assert lines == [
        "a.yaml: file is empty: it holds no YAML document",
        "b.yaml:4:3: metadata.name: name 'Guestbook' is not a valid RFC 1123 subdomain: use lowercase letters,"
        " digits, '-' and '.', starting and ending with a letter or digit",
        "b.yaml:9:3: spec.interval: invalid duration '5d': use numbers with s, m or h units, like \"5m0s\","
        ' "1h30m" or "90s"',
        "sub/c.yml:8:7: spec.subscriptions[0].image.repoURL: 'ghcr.io/a/b:v1' is not an image repository: give"
        " host/path without scheme, tag or digest, like ghcr.io/org/app",
    ]


def test_other_kinds_and_hidden_files_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path, "w.yaml", WAREHOUSE + "---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"
    )
    write(
        tmp_path, "app.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n"
    )
    write(
        tmp_path,
        "freight.yaml",
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Freight\nmetadata:\n  name: f\n",
    )
    write(tmp_path, ".hidden/broken.yaml", "{{{")
    write(tmp_path, ".broken.yaml", "{{{")
    project = load_project(tmp_path)
    assert list(project.warehouses) == ["guestbook"]
    assert project.notices == (
        "app.yaml: skipped Application web (argoproj.io/v1alpha1): not a kind kargo-actions reads",
        "freight.yaml: skipped Freight (a record, not configuration)",
        "w.yaml: skipped Namespace demo (v1): not a kind kargo-actions reads",
    )


def test_unquoted_timestamp_is_read_as_text(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.yaml",
        WAREHOUSE + "  - git:\n      repoURL: https://github.com/akuity/guestbook.git\n"
        "      since: 2024-01-31T08:00:00Z\n",
    )
    git = load_project(tmp_path).warehouses["guestbook"].subscriptions[1].git
    assert git is not None
    assert git.since == "2024-01-31T08:00:00Z"


def test_known_steps_come_from_one_swappable_function(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE)
    write(
        tmp_path,
        "s.yaml",
        """\
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Stage
        metadata:
          name: test
        spec:
          requestedFreight:
          - origin: {kind: Warehouse, name: guestbook}
            sources: {direct: true}
          promotionTemplate:
            spec:
              steps:
              - uses: send-message
        """,
    )
    assert known_step_names() == registry.step_names()
    assert "git-clone" in known_step_names()
    with pytest.raises(InvalidInputError):
        load_project(tmp_path)
    project = load_project(tmp_path, known_steps=lambda: {"send-message"})
    assert project.stages["test"].steps[0].uses == "send-message"


def test_required_task_var_set_at_any_level(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE)
    task = """\
    apiVersion: kargo.akuity.io/v1alpha1
    kind: PromotionTask
    metadata:
      name: promote
    spec:
      vars:
      - name: repoURL
      - name: branch
        value: main
      steps:
      - uses: git-clone
    """
    write(tmp_path, "t.yaml", task)

    def stage(name: str, stage_vars: str, template_vars: str, step_vars: str) -> str:
        return (
            f"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: {name}\nspec:\n"
            f"  requestedFreight:\n  - origin: {{kind: Warehouse, name: guestbook}}\n"
            f"    sources: {{direct: true}}\n  vars: {stage_vars}\n"
            f"  promotionTemplate:\n    spec:\n      vars: {template_vars}\n"
            f"      steps:\n      - task: {{name: promote}}\n        vars: {step_vars}\n"
        )

    url = "[{name: repoURL, value: 'https://example.com/r.git'}]"
    write(tmp_path, "a.yaml", stage("a", url, "[]", "[]"))
    write(tmp_path, "b.yaml", stage("b", "[]", url, "[]"))
    write(tmp_path, "c.yaml", stage("c", "[]", "[]", url))
    assert sorted(load_project(tmp_path).stages) == ["a", "b", "c"]
    write(tmp_path, "d.yaml", stage("d", "[]", "[]", "[{name: repoUrl, value: x}]"))
    lines = problems_of(tmp_path, strict=True)
    assert len(lines) == 2
    assert "requires variable 'repoURL', which is not set" in lines[0]
    assert "the task declares no variable 'repoUrl' (did you mean 'repoURL'?)" in lines[1]


def test_cluster_kinds_and_settings(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE)
    write(
        tmp_path,
        "k.yaml",
        """\
        apiVersion: kargo.akuity.io/v1alpha1
        kind: ClusterPromotionTask
        metadata:
          name: shared
        spec:
          steps:
          - uses: fail
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: ClusterAnalysisTemplate
        metadata:
          name: smoke
        spec:
          metrics:
          - name: up
            provider:
              web:
                url: http://127.0.0.1:1/health
        ---
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Stage
        metadata:
          name: test
        spec:
          requestedFreight:
          - origin: {kind: Warehouse, name: guestbook}
            sources: {direct: true}
          promotionTemplate:
            spec:
              steps:
              - task: {name: shared, kind: ClusterPromotionTask}
          verification:
            analysisTemplates:
            - {name: smoke, kind: ClusterAnalysisTemplate}
        ---
        apiVersion: kargo-actions/v1alpha1
        kind: Settings
        metadata:
          name: settings
        spec:
          ledgerBranch: deploy/ledger
          signing: required
          environments:
            test: {reviewers: [octocat], waitTimer: 5}
        """,
    )
    project = load_project(tmp_path)
    step = project.stages["test"].steps[0]
    assert step.task is not None
    assert project.task(step.task) is project.cluster_promotion_tasks["shared"]
    assert project.settings.spec.ledger_branch == "deploy/ledger"
    assert project.settings.spec.signing == "required"
    assert project.settings.spec.tag_prefix == "kargo/freight"
    assert project.settings.spec.environments["test"].wait_timer == 5


def test_locate_points_into_loaded_manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "w.yaml", WAREHOUSE)
    project = load_project(tmp_path)
    where = project.locate("Warehouse", "guestbook", ("spec", "subscriptions", 0, "image", "repoURL"))
    assert (where.file, where.line, where.col) == ("w.yaml", 8, 7)
    assert where.path == "spec.subscriptions[0].image.repoURL"


def test_auto_promotion_policies(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE)
    for name, labels in (("dev", "{tier: low}"), ("prod-east", "{tier: high}"), ("prod-west", "{}")):
        write(
            tmp_path,
            f"{name}.yaml",
            f"apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: {name}\n  labels: {labels}\n"
            "spec:\n  requestedFreight:\n  - origin: {kind: Warehouse, name: guestbook}\n"
            "    sources: {direct: true}\n",
        )
    write(
        tmp_path,
        "p.yaml",
        """\
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Project
        metadata:
          name: demo
        ---
        apiVersion: kargo.akuity.io/v1alpha1
        kind: ProjectConfig
        metadata:
          name: demo
        spec:
          promotionPolicies:
          - stageSelector: {matchLabels: {tier: high}}
            autoPromotionEnabled: false
          - stageSelector: {name: "glob:prod-*"}
            autoPromotionEnabled: true
          - stage: dev
            autoPromotionEnabled: true
        """,
    )
    project = load_project(tmp_path)
    assert project.name == "demo"
    assert [project.auto_promotion_enabled(s) for s in ("dev", "prod-east", "prod-west")] == [
        True,
        False,
        True,
    ]


def test_project_config_named_unlike_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "w.yaml", WAREHOUSE)
    write(
        tmp_path,
        "p.yaml",
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n---\n"
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata:\n  name: other\n",
    )
    assert problems_of(tmp_path) == [
        "p.yaml:9:3: metadata.name: ProjectConfig must be named like its Project 'demo'"
    ]


def test_names_pointing_nowhere_are_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "w.yaml",
        WAREHOUSE.replace("  name: guestbook\n", "  name: guestbook\n  namespace: other\n"),
    )
    write(
        tmp_path,
        "p.yaml",
        """\
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Project
        metadata:
          name: demo
        ---
        apiVersion: kargo.akuity.io/v1alpha1
        kind: ProjectConfig
        metadata:
          name: demo
        spec:
          promotionPolicies:
          - stage: prod
            autoPromotionEnabled: true
        ---
        apiVersion: kargo-actions/v1alpha1
        kind: Settings
        metadata:
          name: settings
        spec:
          environments:
            prod: {reviewers: [octocat]}
        """,
    )
    project = load_project(tmp_path)  # warnings do not stop a load
    assert [str(w) for w in project.warnings] == [
        "p.yaml:12:5: spec.promotionPolicies[0].stage: the promotion policy names Stage 'prod', which does not exist",
        "p.yaml:21:5: spec.environments.prod: environment protection for Stage 'prod', which does not exist",
        "w.yaml:5:3: metadata.namespace: namespace 'other' is not the project's 'demo': in Kargo this would belong"
        " to another project (set it to 'demo' or leave it out)",
    ]
    assert len(problems_of(tmp_path, strict=True)) == 3


def test_config_dir_name_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = "k" * 300  # longer than any file system allows for one name
    assert problems_of(tmp_path / name) == [f"{name}: cannot read config dir: File name too long"]


def test_config_dir_link_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert problems_of(tmp_path / "a") == ["a: cannot read config dir: Too many levels of symbolic links"]


def test_config_dir_below_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repo").write_text("a file, not a folder")
    assert problems_of(tmp_path / "repo" / ".kargo")[0].startswith("repo/.kargo: config dir does not exist")


def test_a_pipe_named_like_a_manifest_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "w.yaml", WAREHOUSE)
    os.mkfifo(tmp_path / "pipe.yaml")
    assert problems_of(tmp_path) == ["pipe.yaml: not a regular file"]


@pytest.mark.parametrize("url", ["ssh://git@github.com/org/config.git", "git@github.com:org/config.git"])
def test_ssh_git_urls_load_with_kargos_deprecation_warning(tmp_path: Path, url: str) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE + f"  - git:\n      repoURL: {url}\n")
    project = load_project(tmp_path)
    [warning] = project.warnings
    assert (warning.path, warning.line, warning.col) == ("spec.subscriptions[1].git.repoURL", 10, 7)
    assert "deprecated since Kargo v1.10.0 and will be removed in v1.13.0" in warning.message
    assert warning.hint == "use the repository's https:// URL"
    assert problems_of(tmp_path, strict=True)[0].endswith(
        "w.yaml:10:7: spec.subscriptions[1].git.repoURL: SSH URLs (ssh:// and scp-style git@host:path) are"
        " deprecated since Kargo v1.10.0 and will be removed in v1.13.0; this one still works"
        " (use the repository's https:// URL)"
    )


def test_https_git_urls_load_without_warning(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", WAREHOUSE + "  - git:\n      repoURL: https://github.com/org/config.git\n")
    assert load_project(tmp_path).warnings == ()
