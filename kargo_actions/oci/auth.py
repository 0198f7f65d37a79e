"""Registry credentials (docker config.json and its credential helpers, GITHUB_TOKEN for ghcr.io), auth
challenges and a token cache."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from kargo_actions.github.output import mask_secret
from kargo_actions.oci.references import DOCKER_HUB_NAMES
from kargo_actions.struct import struct

# The index URL Docker Hub credentials are stored under (what `docker login` passes to a helper).
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
HELPER_TIMEOUT_S = 30.0


@struct
class Credentials:
    """A username and password (or token) for one registry, and where they came from.

    With `identity_token`, `password` is an OAuth2 refresh token (docker config `identitytoken`, or a
    credential helper answering user `<token>`): it is exchanged at the token realm, never sent as Basic.
    """

    username: str
    password: str
    source: str
    identity_token: bool = False

    def basic(self) -> str:
        """The `Authorization` header value of HTTP Basic auth with these credentials."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(username={self.username!r}, source={self.source!r})"


@struct
class Challenge:
    """A parsed WWW-Authenticate header: scheme (lowercase) and its parameters."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str:
        return next((v for k, v in self.params if k == name), "")


_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """Parse `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`; None when empty."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: list[tuple[str, str]] = []
    for m in _PARAM.finditer(rest):
        value = m[2]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.append((m[1].lower(), value))
    return Challenge(scheme=scheme.lower(), params=tuple(params))


def _host_of(key: str) -> str:
    """config.json keys may be URLs ("https://index.docker.io/v1/") or bare hosts ("ghcr.io")."""
    key = key.strip().lower()
    key = re.sub(r"^[a-z]+://", "", key)
    return key.split("/", 1)[0]


def _same_registry(a: str, b: str) -> bool:
    return a == b or (a in DOCKER_HUB_NAMES and b in DOCKER_HUB_NAMES)


def docker_config_path(env: Mapping[str, str] | None = None) -> Path:
    """$DOCKER_CONFIG/config.json, else ~/.docker/config.json (what the docker CLI reads)."""
    env = os.environ if env is None else env
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(env.get("HOME", str(Path.home()))) / ".docker" / "config.json"


class CredentialsError(ValueError):
    """A docker config.json that cannot be read; the message names the file and entry."""


def credentials_for(
    host: str, env: Mapping[str, str] | None = None, *, more_configs: Sequence[Path] = ()
) -> Credentials | None:
    """Credentials for a registry host, found as the docker CLI finds them, then GITHUB_TOKEN for ghcr.io.

    docker config.json: a `credHelpers` entry for the host, else `credsStore` (the helper program
    `docker-credential-<name>` is asked), else the `auths` entry (`auth`, `username`/`password` or
    `identitytoken`). `more_configs` are files of the same format read the same way after it (helm's
    registry config for OCI charts).
    """
    env = os.environ if env is None else env
    host = host.lower()
    for path in (docker_config_path(env), *more_configs):
        config = _read_config(path)
        helper = _helper_for(config, host)
        found = (
            _from_helper(helper, path, host, env)
            if helper is not None
            else _from_auths(config.get("auths"), path, host, env)
        )
        if found is not None:
            mask_secret(found.password, env)
            return found
    token = env.get("GITHUB_TOKEN")
    if host == "ghcr.io" and token:
        # ghcr.io takes any username with a token as password; GITHUB_ACTOR keeps its logs readable.
        mask_secret(token, env)
        return Credentials(env.get("GITHUB_ACTOR") or "x-access-token", token, "GITHUB_TOKEN")
    return None


def _read_config(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CredentialsError(f"{path}: cannot read docker config: {err}") from err
    if not isinstance(config, dict):
        raise CredentialsError(f"{path}: a docker config is a JSON object")
    return config


def _helper_for(config: Mapping[str, object], host: str) -> tuple[str, str] | None:
    """(helper name, where it was configured) for a host: its credHelpers entry, else credsStore."""
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if isinstance(name, str) and name and _same_registry(_host_of(str(key)), host):
                return name, f"credHelpers[{key!r}]"
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return store, "credsStore"
    return None


def _from_helper(
    helper: tuple[str, str], path: Path, host: str, env: Mapping[str, str]
) -> Credentials | None:
    """Ask `docker-credential-<name> get` (the docker credential helper protocol) for the host's credentials."""
    name, setting = helper
    program = f"docker-credential-{name}"
    where = f"{path} {setting}: {program}"
    server = DOCKER_HUB_SERVER if host in DOCKER_HUB_NAMES else host
    try:
        proc = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            env=dict(env),
            timeout=HELPER_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as err:
        raise CredentialsError(
            f"{where} is not on PATH (install it, or remove {setting} from the docker config)"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise CredentialsError(f"{where} did not answer within {HELPER_TIMEOUT_S:.0f} s") from err
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        if "credentials not found" in out.lower():
            return None
        message = (out or proc.stderr.decode(errors="replace").strip() or "no message").splitlines()[0]
        raise CredentialsError(f"{where} failed for {server} (exit {proc.returncode}): {message[:200]}")
    try:
        answer = json.loads(out)
    except ValueError as err:
        raise CredentialsError(f"{where} answered something that is not JSON for {server}") from err
    user = answer.get("Username") if isinstance(answer, dict) else None
    secret = answer.get("Secret") if isinstance(answer, dict) else None
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        raise CredentialsError(f"{where} answered without Username and Secret for {server}")
    return Credentials(user, secret, program, identity_token=user == "<token>")


def _from_auths(auths: object, path: Path, host: str, env: Mapping[str, str]) -> Credentials | None:
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if not isinstance(entry, dict) or not _same_registry(_host_of(str(key)), host):
            continue
        found = _entry_credentials(entry, f"{path} auths[{key!r}]")
        if found is not None:
            if isinstance(entry.get("auth"), str):
                mask_secret(entry["auth"], env)  # base64 of user:password is as secret as the password
            return found
    return None


def _entry_credentials(entry: Mapping[str, object], where: str) -> Credentials | None:
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        user = entry.get("username")
        return Credentials(
            user if isinstance(user, str) and user else "<token>", token, where, identity_token=True
        )
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise CredentialsError(f"{where}: `auth` is not base64 of user:password") from err
        user, sep, password = decoded.partition(":")
        if not sep:
            raise CredentialsError(f"{where}: `auth` decodes to no user:password pair")
        return Credentials(user, password, where)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name:
        return Credentials(name, secret, where)
    return None


@struct
class TokenKey:
    """Tokens are issued per realm, service and scope."""

    realm: str
    service: str
    scope: str


@struct
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """Bearer tokens in memory (never on disk), dropped a little before their expires_in runs out."""

    # The distribution spec says a token without expires_in lasts 60 s.
    DEFAULT_TTL = 60.0
    MARGIN = 5.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[TokenKey, _Token] = {}
        self._lock = threading.Lock()
        self.fetch_lock = threading.Lock()  # held while asking the realm, so concurrent requests ask once

    def get(self, key: TokenKey) -> str | None:
        with self._lock:
            token = self._tokens.get(key)
            if token is None:
                return None
            if token.expires_at <= self._clock():
                del self._tokens[key]
                return None
            return token.value

    def put(self, key: TokenKey, value: str, expires_in: float | None) -> None:
        ttl = self.DEFAULT_TTL if not expires_in or expires_in <= 0 else float(expires_in)
        with self._lock:
            self._tokens[key] = _Token(value, self._clock() + max(ttl - self.MARGIN, 1.0))

    def drop(self, key: TokenKey) -> None:
        with self._lock:
            self._tokens.pop(key, None)
