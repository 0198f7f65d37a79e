"""Chart repository credentials where helm keeps them: `helm repo add --username/--password` writes
repositories.yaml, `helm registry login` writes a docker-style config.json for OCI registries.

Credentials never live in manifests; a workflow runs `helm repo add` (or `helm registry login`) with its
secrets first, exactly as it would for helm itself, and discovery reads what helm wrote.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from kargo_actions.github.output import mask_secret
from kargo_actions.oci.auth import Credentials, CredentialsError


def _config_home(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg)
    return Path(env.get("HOME", str(Path.home()))) / ".config"


def repository_config_path(env: Mapping[str, str] | None = None) -> Path:
    """$HELM_REPOSITORY_CONFIG, else $XDG_CONFIG_HOME/helm/repositories.yaml (helm's own default)."""
    env = os.environ if env is None else env
    chosen = env.get("HELM_REPOSITORY_CONFIG")
    return Path(chosen) if chosen else _config_home(env) / "helm" / "repositories.yaml"


def registry_config_path(env: Mapping[str, str] | None = None) -> Path:
    """$HELM_REGISTRY_CONFIG, else $XDG_CONFIG_HOME/helm/registry/config.json (`helm registry login`)."""
    env = os.environ if env is None else env
    chosen = env.get("HELM_REGISTRY_CONFIG")
    return Path(chosen) if chosen else _config_home(env) / "helm" / "registry" / "config.json"


def _same_repository(a: str, b: str) -> bool:
    def key(url: str) -> str:
        scheme, sep, rest = url.strip().partition("://")
        if not sep:
            return url.strip().rstrip("/")
        host, slash, path = rest.partition("/")
        return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")

    return key(a) == key(b)


def repository_credentials(repo_url: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """The username and password helm keeps for a classic chart repository URL, if any."""
    env = os.environ if env is None else env
    path = repository_config_path(env)
    if not path.is_file():
        return None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as err:
        raise CredentialsError(f"{path}: cannot read helm's repository config: {err}") from err
    entries = data.get("repositories") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not _same_repository(str(entry.get("url", "")), repo_url):
            continue
        user, password = entry.get("username"), entry.get("password")
        if not user and not password:
            return None
        if not isinstance(user, str) or not isinstance(password, str):
            raise CredentialsError(
                f"{path} repositories[{index}] ({entry.get('name', '?')}): username and password must be text"
            )
        mask_secret(password, env)
        return Credentials(user, password, f"{path} repositories[{index}] ({entry.get('name', '?')})")
    return None
