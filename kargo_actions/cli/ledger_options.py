"""Ledger options shared by every command that reads or writes the ledger: flag > env > Settings > default."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kargo_actions.cli.context import AppContext
from kargo_actions.errors import InvalidInputError
from kargo_actions.manifest_files import SETTINGS_API_VERSION, SUBDOMAIN, settings_candidates

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger, LedgerConfig
    from kargo_actions.model.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def ledger_options(func: F) -> F:
    """--ledger-branch, --ledger-remote, --tag-prefix, --sign; unset ones fall back to
    KARGO_ACTIONS_* variables, then the Settings manifest, then the defaults."""
    options = [
        click.option(
            "--ledger-branch",
            default=None,
            help="Branch holding the ledger records (env KARGO_ACTIONS_LEDGER_BRANCH, Settings "
            "spec.ledgerBranch).  [default: kargo/ledger]",
        ),
        click.option(
            "--ledger-remote",
            default=None,
            help="Remote the ledger is pushed to ('' = local only; a missing remote = local only) "
            "(env KARGO_ACTIONS_LEDGER_REMOTE, Settings spec.remote).  [default: origin]",
        ),
        click.option(
            "--tag-prefix",
            default=None,
            help="Freight tags are <prefix>/<warehouse>/<id> (env KARGO_ACTIONS_TAG_PREFIX, Settings "
            "spec.tagPrefix).  [default: kargo/freight]",
        ),
        click.option(
            "--sign",
            "signing",
            type=click.Choice(["never", "auto", "required"]),
            default=None,
            help="Tag signing policy, auto: sign when git has a signing key (env KARGO_ACTIONS_SIGN, "
            "Settings spec.signing).  [default: auto]",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def find_settings(config_dir: Path) -> Settings | None:
    """The Settings manifest of the config dir, or None when there is none (or no config dir).

    Only the Settings document is read and validated (manifests.load_settings), so ledger commands pay for
    no other manifest, and one in a repository without Settings pays nothing.
    """
    if not settings_candidates(config_dir):
        return None
    from kargo_actions.manifests import load_settings

    return load_settings(config_dir)


# What plain_settings reads without the Settings model (tests hold both to the model's own).
SETTINGS_SPEC_FIELDS = frozenset(
    {
        "ledgerBranch",
        "remote",
        "tagPrefix",
        "signing",
        "cacheDir",
        "insecureRegistries",
        "environments",
        "requiredChecks",
        "promotionBranches",
        "reconcileInterval",
        "promotionLease",
        "githubApp",
        "discoveryTimeout",
        "discoveryShardThreshold",
        "deployments",
    }
)
_LEDGER_FIELDS = {
    "ledgerBranch": "ledger_branch",
    "remote": "remote",
    "tagPrefix": "tag_prefix",
    "signing": "signing",
}


def plain_settings(config_dir: Path) -> dict[str, str] | None:
    """The ledger fields of the config dir's Settings document, read without the models ({} with none).

    None when the document is not plainly well formed (not exactly one Settings document, a field this
    version does not know, a ledger field that is not text): the caller then reads it through the model,
    which names what is wrong. The other fields (environments...) are not checked here; `validate` does.
    """
    files = settings_candidates(config_dir)
    if not files:
        return {}
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    documents: list[Any] = []
    for _, data in files:
        try:
            documents += [
                d
                for d in YAML(typ="safe", pure=True).load_all(data.decode("utf-8"))
                if isinstance(d, dict) and d.get("kind") == "Settings"
            ]
        except (UnicodeDecodeError, YAMLError, RecursionError):  # the model reading reports it
            return None
    if not documents:
        return {}
    doc = documents[0]
    metadata, spec = doc.get("metadata"), doc.get("spec", {})
    if (
        len(documents) != 1
        or doc.get("apiVersion") != SETTINGS_API_VERSION
        or set(doc) - {"apiVersion", "kind", "metadata", "spec"}
        or not isinstance(metadata, dict)
        or set(metadata) != {"name"}
        or not isinstance(metadata["name"], str)
        or len(metadata["name"]) > 253
        or not SUBDOMAIN.match(metadata["name"])
        or not isinstance(spec, dict)
        or set(spec) - SETTINGS_SPEC_FIELDS
        or any(key in spec and not isinstance(spec[key], str) for key in _LEDGER_FIELDS)
    ):
        return None
    return {name: spec[key] for key, name in _LEDGER_FIELDS.items() if key in spec}


def plain_ledger_config(
    env: Mapping[str, str], file_values: Mapping[str, str] | None = None, **flags: str | None
) -> LedgerConfig | None:
    """The LedgerConfig of flags > KARGO_ACTIONS_* variables > the Settings file's values > defaults.

    Needs no models (pydantic), which is most of a quick command's start-up. None when a value is not one
    the Settings model would take as it is: the caller then resolves through the model, which names it.
    """
    from kargo_actions.ledger.config import LedgerConfig, SigningPolicy
    from kargo_actions.model.ledger_names import LEDGER_ENV_VARS, is_ref_name

    chosen = {name: flags.get(name) for name in LEDGER_ENV_VARS}
    for name, var in LEDGER_ENV_VARS.items():
        if chosen[name] is None:
            chosen[name] = env.get(var)
        if chosen[name] is None and file_values:
            chosen[name] = file_values.get(name)
    default = LedgerConfig()
    branch = chosen["ledger_branch"] if chosen["ledger_branch"] is not None else default.branch
    prefix = chosen["tag_prefix"] if chosen["tag_prefix"] is not None else default.tag_prefix
    remote = chosen["remote"] if chosen["remote"] is not None else default.remote
    signing = chosen["signing"] if chosen["signing"] is not None else default.signing.value
    if not (is_ref_name(branch) and is_ref_name(prefix)) or signing not in set(SigningPolicy):
        return None
    try:
        return LedgerConfig(
            branch=branch, remote=remote or None, tag_prefix=prefix, signing=SigningPolicy(signing)
        )
    except InvalidInputError:
        return None


def _plain_config(
    app: AppContext,
    ledger_branch: str | None,
    ledger_remote: str | None,
    tag_prefix: str | None,
    signing: str | None,
) -> LedgerConfig | None:
    """The LedgerConfig from the flags, variables and a plainly well-formed Settings file, read without the
    models; None sends the caller to the models (which name what is wrong)."""
    file_values = plain_settings(app.config_dir)
    if file_values is None:
        return None
    return plain_ledger_config(
        os.environ,
        file_values,
        ledger_branch=ledger_branch,
        remote=ledger_remote,
        tag_prefix=tag_prefix,
        signing=signing,
    )


def ledger_config(
    app: AppContext,
    ledger_branch: str | None = None,
    ledger_remote: str | None = None,
    tag_prefix: str | None = None,
    signing: str | None = None,
    *,
    settings: Settings | None = None,
) -> LedgerConfig:
    """The LedgerConfig in force: a flag given > its KARGO_ACTIONS_* variable > Settings manifest > default.

    `settings` saves reading the config dir again when the caller has loaded the project.
    """
    if settings is None:
        plain = _plain_config(app, ledger_branch, ledger_remote, tag_prefix, signing)
        if plain is not None:
            return plain
    from kargo_actions.errors import Problem
    from kargo_actions.ledger import LedgerConfig, SigningPolicy
    from kargo_actions.model.settings import Settings, SettingsSpec

    chosen = settings if settings is not None else (find_settings(app.config_dir) or Settings())
    try:
        spec = chosen.resolved(
            os.environ,
            ledger_branch=ledger_branch,
            remote=ledger_remote,
            tag_prefix=tag_prefix,
            signing=signing,
        )
    except ValueError as err:  # pydantic's ValidationError is a ValueError: one line per bad setting
        from pydantic import ValidationError

        from kargo_actions.model.messages import dotted, field_problems

        if isinstance(err, ValidationError):
            problems = [
                Problem(path=dotted(p.loc), message=f"{p.message} (flag or KARGO_ACTIONS_*)", hint=p.hint)
                for p in field_problems(err, SettingsSpec)
            ]
        else:
            problems = [Problem(path="ledger settings", message=str(err))]
        raise InvalidInputError(problems) from err
    return LedgerConfig(
        branch=spec.ledger_branch,
        remote=spec.remote or None,
        tag_prefix=spec.tag_prefix,
        signing=SigningPolicy(spec.signing),
    )


def open_ledger(app: AppContext, **options: str | None) -> Ledger:
    """The repository's Ledger configured from the ledger options (see `ledger_config`)."""
    return open_project_ledger(app, None, **options)


def open_project_ledger(app: AppContext, settings: Settings | None, **options: str | None) -> Ledger:
    """As open_ledger, with the Settings of an already loaded project (saves reading the config dir)."""
    from kargo_actions.ledger import Ledger

    return Ledger(app.repo, ledger_config(app, settings=settings, **options))


def fetch_ahead(
    app: AppContext,
    ledger_branch: str | None = None,
    ledger_remote: str | None = None,
    tag_prefix: str | None = None,
    signing: str | None = None,
) -> None:
    """Begin the ledger's fetch in a background git process before a writing command imports its modules and
    loads the manifests: the first ledger write then finds the fetch done (`LedgerRepo.start_fetch`).

    Only on the plain path (no models); whatever stops it (no repository, a Settings file the models must
    read) is left to the command, which opens the ledger as always and says what is wrong.
    """
    from kargo_actions.errors import KargoActionsError
    from kargo_actions.ledger.reader import LedgerRepo

    config = _plain_config(app, ledger_branch, ledger_remote, tag_prefix, signing)
    if config is None:
        return
    try:
        with LedgerRepo(app.repo, config) as repo:
            repo.start_fetch()
    except (KargoActionsError, OSError):
        return
