"""Load a folder of Kargo manifests into a validated, cross-checked Project.

Every problem is collected (not only the first) with its file, line and column, so one run of
`kargo-actions validate` shows everything to fix. Documents of other kinds are skipped with a notice.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import importlib
import os
import stat
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.freight.urls import SSH_DEPRECATION, is_ssh_git_url
from kargo_actions.manifest_checks import cross_check
from kargo_actions.manifest_credentials import credential_warnings
from kargo_actions.manifest_expressions import expression_problems
from kargo_actions.manifest_files import SETTINGS_API_VERSION, SETTINGS_KIND, manifest_paths
from kargo_actions.manifest_yaml import PlainDocument, format_path, locate, read_documents
from kargo_actions.model.base import KARGO_API_VERSION
from kargo_actions.model.messages import field_problems, type_name
from kargo_actions.model.project import Project, ProjectConfig, ProjectResource
from kargo_actions.model.promotion_task import ClusterPromotionTask, PromotionTask
from kargo_actions.model.settings import Settings
from kargo_actions.model.stage import Stage
from kargo_actions.model.warehouse import DEPRECATED_FIELDS, Warehouse
from kargo_actions.struct import struct

ARGO_API_VERSION = "argoproj.io/v1alpha1"


def known_step_names() -> frozenset[str]:
    """The step names `uses:` may name: the step registry's, the one list of them."""
    from kargo_actions.promotion.registry import step_names

    return step_names()


class _KindModels(Mapping[str, tuple[str, type[BaseModel]]]):
    """kind -> (apiVersion, model); a model named "module:Class" is imported when its kind is first looked up
    (Argo Rollouts' analysis models, ~20 classes, load only for a project that has templates)."""

    def __init__(self, kinds: dict[str, tuple[str, type[BaseModel] | str]]) -> None:
        self._kinds = kinds

    def __getitem__(self, kind: str) -> tuple[str, type[BaseModel]]:
        api_version, model = self._kinds[kind]
        if isinstance(model, str):
            module, _, name = model.partition(":")
            model = getattr(importlib.import_module(module), name)
            assert isinstance(model, type)
            assert issubclass(model, BaseModel)
            self._kinds[kind] = (api_version, model)
        return api_version, model

    def api_version(self, kind: str) -> str:
        return self._kinds[kind][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


# kind -> (apiVersion, model) of every kind the loader reads.
MODELS = _KindModels(
    {
        "Project": (KARGO_API_VERSION, ProjectResource),
        "ProjectConfig": (KARGO_API_VERSION, ProjectConfig),
        "Warehouse": (KARGO_API_VERSION, Warehouse),
        "Stage": (KARGO_API_VERSION, Stage),
        "PromotionTask": (KARGO_API_VERSION, PromotionTask),
        "ClusterPromotionTask": (KARGO_API_VERSION, ClusterPromotionTask),
        "AnalysisTemplate": (ARGO_API_VERSION, "kargo_actions.model.analysis:AnalysisTemplate"),
        "ClusterAnalysisTemplate": (ARGO_API_VERSION, "kargo_actions.model.analysis:ClusterAnalysisTemplate"),
        "Settings": (SETTINGS_API_VERSION, Settings),
    }
)
# Kargo kinds that are records or cluster configuration, not project configuration: skipped.
KARGO_SKIPPED_KINDS = frozenset({"Freight", "Promotion", "PromotionRequest", "ClusterConfig", "Target"})
_OWN_GROUPS = frozenset({"kargo.akuity.io", "argoproj.io", "kargo-actions"})


@struct
class _Doc:
    """One YAML document of a manifest file, with the round-trip node that knows positions."""

    file: str
    node: Any
    kind: str
    name: str


class _Collector:
    """Gathers problems, warnings and notices while loading."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.notices: list[str] = []
        # kind -> names of documents already reported invalid: a reference to one is not a second error
        self.invalid: dict[str, set[str]] = {}

    def reported(self, kind: str, name: str) -> bool:
        return name in self.invalid.get(kind, ())

    def at(self, file: str, node: Any, loc: tuple[str | int, ...], message: str, hint: str = "") -> Problem:
        line, col, path = locate(node, loc)
        return Problem(file=file, line=line, col=col, path=path, message=message, hint=hint)

    def error(self, file: str, node: Any, loc: tuple[str | int, ...], message: str, hint: str = "") -> None:
        self.problems.append(self.at(file, node, loc, message, hint))


def display_path(path: Path) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except (ValueError, OSError):  # another drive, or the working directory is gone
        return str(path)
    return str(path) if rel.startswith("..") else rel


def to_plain(node: Any) -> Any:
    """Round-trip YAML nodes to plain dict/list/str/int/float/bool/None (what pydantic should see)."""
    if type(node) is PlainDocument:
        return node  # libyaml's values are plain already
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, _dt.datetime):
        # YAML timestamps arrive as datetimes; Kubernetes sees the text, so give it back as RFC 3339.
        value = node if node.tzinfo else node.replace(tzinfo=_dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(node, _dt.date):
        return node.isoformat()
    return node


def _validate(doc: _Doc, model: type[BaseModel], out: _Collector) -> BaseModel | None:
    try:
        return model.model_validate(to_plain(doc.node))
    except RecursionError:  # the reader bounds nesting, so only a bug gets here: report, do not crash
        out.error(doc.file, doc.node, (), f"{doc.kind} nests too deeply to check")
        return None
    except ValidationError as err:
        for problem in field_problems(err, model):
            out.error(doc.file, doc.node, problem.loc, problem.message, problem.hint)
        return None


def _classify(
    file: str, node: Any, index: int, start: tuple[int, int] | None, out: _Collector
) -> _Doc | None:
    """Check apiVersion/kind/metadata.name; None for documents skipped or refused."""
    if not isinstance(node, dict):
        line, col = start or (0, 0)
        out.problems.append(
            Problem(
                file=file,
                line=line,
                col=col,
                message=f"document {index + 1} is {type_name(to_plain(node))}, expected a mapping"
                " with apiVersion, kind, metadata and spec",
            )
        )
        return None
    api_version, kind = node.get("apiVersion"), node.get("kind")
    if not isinstance(kind, str) or not kind:
        out.error(file, node, ("kind",), "required field is missing" if kind is None else "must be a string")
        return None
    if not isinstance(api_version, str) or not api_version:
        out.error(
            file,
            node,
            ("apiVersion",),
            "required field is missing" if api_version is None else "must be a string",
        )
        return None
    group = api_version.split("/", 1)[0]
    if kind in MODELS:
        expected = MODELS.api_version(kind)
        near = difflib.get_close_matches(api_version, [expected], n=1, cutoff=0.75)
        if api_version != expected and (group in _OWN_GROUPS or near):
            out.error(
                file, node, ("apiVersion",), f"apiVersion of {kind} must be {expected}, not {api_version!r}"
            )
            return None
        if api_version != expected:
            _skip(file, node, kind, api_version, out)
            return None
    elif group == "kargo.akuity.io" and kind in KARGO_SKIPPED_KINDS:
        out.notices.append(f"{file}: skipped {kind} (a record, not configuration)")
        return None
    elif group in _OWN_GROUPS:
        known = [k for k in MODELS if MODELS.api_version(k).split("/", 1)[0] == group]
        close = difflib.get_close_matches(kind, known, n=1, cutoff=0.6)
        # Argo has many kinds (Application, Rollout...): only a near-miss of a template kind is an error there.
        if group != ARGO_API_VERSION.split("/", 1)[0] or close:
            out.error(
                file,
                node,
                ("kind",),
                f"unknown kind {kind!r} for apiVersion {api_version}",
                f"did you mean {close[0]!r}?" if close else "known kinds: " + ", ".join(sorted(known)),
            )
            return None
        _skip(file, node, kind, api_version, out)
        return None
    else:
        _skip(file, node, kind, api_version, out)
        return None
    metadata = node.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return _Doc(file=file, node=node, kind=kind, name=name if isinstance(name, str) else "")


def _skip(file: str, node: Any, kind: str, api_version: str, out: _Collector) -> None:
    metadata = node.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    label = f"{kind} {name}" if isinstance(name, str) and name else kind
    out.notices.append(f"{file}: skipped {label} ({api_version}): not a kind kargo-actions reads")


def _manifest_files(config_dir: Path, out: _Collector) -> list[Path]:
    """Every *.yaml / *.yml under the folder, sorted, skipping hidden sub-folders and files; links leaving
    the repository are reported."""

    def unreadable(err: OSError) -> None:
        where = display_path(Path(err.filename)) if err.filename else display_path(config_dir)
        out.problems.append(Problem(file=where, message=f"cannot read folder: {err.strerror or err}"))

    def outside(path: Path, target: Path) -> None:
        out.problems.append(
            Problem(
                file=display_path(path),
                message=f"a link to {target}, outside the repository: manifests are read from the repository only",
                hint="copy the file into the repository, or link to a place inside it",
            )
        )

    return manifest_paths(config_dir, unreadable, outside)


def _check_config_dir(config_dir: Path) -> None:
    shown = display_path(config_dir)
    try:
        mode = config_dir.stat().st_mode
    except (FileNotFoundError, NotADirectoryError) as err:
        raise InvalidInputError(
            [
                Problem(
                    file=shown,
                    message="config dir does not exist",
                    hint="create it with your Kargo manifests, or pass --config-dir DIR",
                )
            ]
        ) from err
    except OSError as err:  # a loop of links, a name too long, no permission on a parent
        raise InvalidInputError(
            [Problem(file=shown, message=f"cannot read config dir: {err.strerror or err}")]
        ) from err
    if not stat.S_ISDIR(mode):
        raise InvalidInputError([Problem(file=shown, message="config dir is not a directory")])
    try:
        with os.scandir(config_dir) as entries:
            next(entries, None)
    except OSError as err:
        raise InvalidInputError(
            [Problem(file=shown, message=f"cannot read config dir: {err.strerror or err}")]
        ) from err


def load_project(
    config_dir: Path,
    *,
    strict: bool = False,
    known_steps: Callable[[], Collection[str]] = known_step_names,
) -> Project:
    """Load, validate and cross-check every manifest in config_dir.

    Raises InvalidInputError holding every problem found (and, when strict, every warning too).
    """
    _check_config_dir(config_dir)
    out = _Collector()
    files = _manifest_files(config_dir, out)
    if not files and not out.problems:
        raise InvalidInputError(
            [Problem(file=display_path(config_dir), message="config dir holds no *.yaml or *.yml file")]
        )
    docs: list[_Doc] = []
    for path in files:
        file = display_path(path)
        for node, index, start in read_documents(path, file, out.problems):
            doc = _classify(file, node, index, start, out)
            if doc is not None:
                docs.append(doc)
    loaded: dict[str, dict[str, tuple[_Doc, Any]]] = {kind: {} for kind in MODELS}
    for doc in docs:
        model = MODELS[doc.kind][1]
        out.warnings += credential_warnings(doc.file, doc.node)
        if doc.kind == "Warehouse":
            _warn_deprecated(doc, out)
        obj = _validate(doc, model, out)
        if obj is None and doc.name:
            out.invalid.setdefault(doc.kind, set()).add(doc.name)
        if obj is None or not doc.name:
            continue
        out.problems += expression_problems(doc.file, doc.kind, doc.node)
        if doc.name in loaded[doc.kind]:
            first = loaded[doc.kind][doc.name][0]
            line, _, _ = locate(first.node, ("metadata", "name"))
            out.error(
                doc.file,
                doc.node,
                ("metadata", "name"),
                f"duplicate {doc.kind} {doc.name!r}",
                f"first defined at {first.file}:{line}",
            )
            continue
        loaded[doc.kind][doc.name] = (doc, obj)
    project = _assemble(config_dir, loaded, out)
    cross_check(project, loaded, out, frozenset(known_steps()))
    project = dataclasses.replace(project, warnings=tuple(sorted(out.warnings)), notices=tuple(out.notices))
    problems = sorted([*out.problems, *(out.warnings if strict else [])])
    if problems:
        raise InvalidInputError(problems)
    return project


def load_settings(config_dir: Path) -> Settings | None:
    """The Settings manifest alone, validated as load_project validates it; None when the folder has none.

    For commands that need only the settings (the ledger commands): the other manifests are not read, so a
    problem in a Stage does not stop `freight list`, and a large project costs nothing. Only files that hold
    a `kind: Settings` line are parsed.
    """
    if not config_dir.is_dir():
        return None
    out = _Collector()
    found: list[tuple[_Doc, Settings]] = []
    for path in _manifest_files(config_dir, out):
        try:
            if not SETTINGS_KIND.search(path.read_bytes()):
                continue
        except OSError as err:
            out.problems.append(Problem(file=display_path(path), message=f"cannot read file: {err.strerror}"))
            continue
        file = display_path(path)
        for node, index, start in read_documents(path, file, out.problems):
            if not isinstance(node, dict) or node.get("kind") != "Settings":
                continue
            doc = _classify(file, node, index, start, out)
            settings = _validate(doc, Settings, out) if doc is not None else None
            if doc is not None and isinstance(settings, Settings):
                found.append((doc, settings))
    for doc, _ in found[1:]:
        out.error(doc.file, doc.node, ("metadata", "name"), "a project holds one Settings only")
    if out.problems:
        raise InvalidInputError(sorted(out.problems))
    return found[0][1] if found else None


def _warn_deprecated(doc: _Doc, out: _Collector) -> None:
    subs = doc.node.get("spec", {}).get("subscriptions") if isinstance(doc.node.get("spec"), dict) else None
    if not isinstance(subs, list):
        return
    for i, sub in enumerate(subs):
        if not isinstance(sub, dict):
            continue
        git = sub.get("git")
        url = git.get("repoURL") if isinstance(git, dict) else None
        if isinstance(url, str) and is_ssh_git_url(url):
            out.warnings.append(
                out.at(
                    doc.file,
                    doc.node,
                    ("spec", "subscriptions", i, "git", "repoURL"),
                    f"{SSH_DEPRECATION}; this one still works",
                    "use the repository's https:// URL",
                )
            )
        for kind in ("image", "git"):
            body = sub.get(kind)
            if not isinstance(body, dict):
                continue
            for old, new in DEPRECATED_FIELDS.items():
                if old in body:
                    out.warnings.append(
                        out.at(
                            doc.file,
                            doc.node,
                            ("spec", "subscriptions", i, kind, old),
                            f"{old} is deprecated (Kargo refuses it at discovery since v1.11): read as {new}",
                            f"rename it to {new}"
                            + (" and make it a list" if old == "allowTags" else " with ^tag$ regexes"),
                        )
                    )


def _objects(loaded: dict[str, dict[str, tuple[_Doc, Any]]], kind: str) -> dict[str, Any]:
    return {name: obj for name, (_, obj) in sorted(loaded[kind].items())}


def _assemble(config_dir: Path, loaded: dict[str, dict[str, tuple[_Doc, Any]]], out: _Collector) -> Project:
    def single(kind: str) -> Any:
        items = list(loaded[kind].values())
        for doc, _ in items[1:]:
            out.error(doc.file, doc.node, ("metadata", "name"), f"a project holds one {kind} only")
        return items[0][1] if items else None

    resource: ProjectResource | None = single("Project")
    config: ProjectConfig | None = single("ProjectConfig")
    settings: Settings | None = single("Settings")
    name = resource.name if resource else config.name if config else config_dir.resolve().parent.name
    if resource is not None and config is not None and config.name != resource.name:
        doc = next(iter(loaded["ProjectConfig"].values()))[0]
        out.error(
            doc.file,
            doc.node,
            ("metadata", "name"),
            f"ProjectConfig must be named like its Project {resource.name!r}",
        )
    sources = {(kind, name): doc for kind, items in loaded.items() for name, (doc, _) in items.items()}

    def locator(kind: str, obj_name: str, path: tuple[str | int, ...]) -> Problem:
        doc = sources.get((kind, obj_name))
        if doc is None:
            return Problem(path=format_path(path))
        line, col, shown = locate(doc.node, path)
        return Problem(file=doc.file, line=line, col=col, path=shown)

    return Project(
        name=name,
        config_dir=config_dir,
        resource=resource,
        config=config,
        settings=settings or Settings(),
        warehouses=types.MappingProxyType(_objects(loaded, "Warehouse")),
        stages=types.MappingProxyType(_objects(loaded, "Stage")),
        promotion_tasks=types.MappingProxyType(_objects(loaded, "PromotionTask")),
        cluster_promotion_tasks=types.MappingProxyType(_objects(loaded, "ClusterPromotionTask")),
        analysis_templates=types.MappingProxyType(_objects(loaded, "AnalysisTemplate")),
        cluster_analysis_templates=types.MappingProxyType(_objects(loaded, "ClusterAnalysisTemplate")),
        warnings=tuple(out.warnings),
        notices=tuple(out.notices),
        locator=locator,
    )
