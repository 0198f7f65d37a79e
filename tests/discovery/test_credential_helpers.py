"""docker config.json credential helpers (`credHelpers`, `credsStore`) and identity tokens, as the docker CLI
reads them: helper programs run for real (the credential helper protocol is a program on PATH), and the
identity token is exchanged at a real token realm in front of a real docker-registry."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from kargo_actions.oci.auth import DOCKER_HUB_SERVER, CredentialsError, credentials_for
from tests.discovery.registry_server import PASSWORD, REFRESH_TOKEN, USER, Seeded, docker_config
from tests.discovery.test_registry import session

HELPER = """\
#!{python}
# A docker credential helper: `get` reads a server URL on stdin and answers from a JSON store file.
import json, os, sys
store = json.load(open(os.environ["KARGOTEST_STORE"]))
log = os.environ.get("KARGOTEST_LOG")
server = sys.stdin.read().strip()
if log:
    with open(log, "a") as f:
        f.write(sys.argv[1] + " " + server + "\\n")
if sys.argv[1] != "get":
    sys.exit(2)
if server == "broken.example":
    print("keychain is locked", file=sys.stderr)
    sys.exit(1)
if server == "garbage.example":
    print("this is not json")
    sys.exit(0)
entry = store.get(server)
if entry is None:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({{"ServerURL": server, "Username": entry[0], "Secret": entry[1]}}))
"""


def install_helper(tmp_path: Path, name: str, store: dict[str, tuple[str, str]]) -> dict[str, str]:
    """docker-credential-<name> on a PATH of its own; returns the environment that finds it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / f"docker-credential-{name}"
    program.write_text(HELPER.format(python=sys.executable))
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    store_file = tmp_path / f"{name}-store.json"
    store_file.write_text(json.dumps(store))
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "KARGOTEST_STORE": str(store_file),
        "KARGOTEST_LOG": str(tmp_path / "helper.log"),
    }


def write_config(tmp_path: Path, config: dict[str, object]) -> dict[str, str]:
    directory = tmp_path / "docker-config"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(directory)}


def test_cred_helpers_per_host_then_creds_store(tmp_path: Path) -> None:
    env = install_helper(tmp_path, "kargotest", {"ghcr.io": ("gh-user", "gh-pw"), "quay.io": ("q", "qpw")})
    env |= write_config(
        tmp_path,
        {
            "credHelpers": {"ghcr.io": "kargotest"},
            "credsStore": "kargotest",
            "auths": {"ghcr.io": {"auth": "aWdub3JlZDppZ25vcmVk"}},  # a helper wins, as in the docker CLI
        },
    )
    creds = credentials_for("ghcr.io", env)
    assert creds is not None
    assert (creds.username, creds.password, creds.source, creds.identity_token) == (
        "gh-user",
        "gh-pw",
        "docker-credential-kargotest",
        False,
    )
    quay = credentials_for("quay.io", env)
    assert quay is not None
    assert quay.username == "q"
    assert credentials_for("registry.example", env) is None  # "credentials not found": anonymous
    log = (tmp_path / "helper.log").read_text().splitlines()
    assert log == ["get ghcr.io", "get quay.io", "get registry.example"]


def test_docker_hub_is_asked_under_its_index_url(tmp_path: Path) -> None:
    env = install_helper(tmp_path, "kargotest", {DOCKER_HUB_SERVER: ("hub", "hubpw")})
    env |= write_config(tmp_path, {"credsStore": "kargotest"})
    creds = credentials_for("registry-1.docker.io", env)
    assert creds is not None
    assert creds.username == "hub"


def test_helper_token_user_means_identity_token(tmp_path: Path) -> None:
    env = install_helper(tmp_path, "kargotest", {"ghcr.io": ("<token>", "refresh-me")})
    env |= write_config(tmp_path, {"credsStore": "kargotest"})
    creds = credentials_for("ghcr.io", env)
    assert creds is not None
    assert (creds.identity_token, creds.password) == (True, "refresh-me")
    assert "refresh-me" not in repr(creds)


@pytest.mark.parametrize(
    ("host", "config", "message"),
    [
        (
            "ghcr.io",
            {"credsStore": "nosuchhelper"},
            r"docker-credential-nosuchhelper is not on PATH .*credsStore",
        ),
        ("quay.io", {"credHelpers": {"quay.io": "nosuch"}}, r"credHelpers\['quay.io'\].*not on PATH"),
        (
            "broken.example",
            {"credsStore": "kargotest"},
            r"failed for broken.example \(exit 1\): keychain is locked",
        ),
        ("garbage.example", {"credsStore": "kargotest"}, r"not JSON for garbage.example"),
        ("ghcr.io", {"credsStore": 5, "auths": []}, None),  # wrong types are ignored, as docker does
    ],
)
def test_helper_failures_say_which_helper_and_how_to_fix(
    tmp_path: Path, host: str, config: dict[str, object], message: str | None
) -> None:
    env = install_helper(tmp_path, "kargotest", {}) | write_config(tmp_path, config)
    if message is None:
        assert credentials_for(host, env) is None
        return
    with pytest.raises(CredentialsError, match=message):
        credentials_for(host, env)


def test_helper_secrets_are_masked_in_actions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = install_helper(tmp_path, "kargotest", {"masked.example": ("u", "very-secret-helper-pw")})
    env |= write_config(tmp_path, {"credsStore": "kargotest"}) | {"GITHUB_ACTIONS": "true"}
    assert credentials_for("masked.example", env) is not None
    out, err = capsys.readouterr()
    assert "::add-mask::very-secret-helper-pw" in err
    assert out == ""  # stdout is the command's JSON result in the actions (setup/run.sh keeps it in a file)


# -- against docker-registry behind a token realm -------------------------------------------------


def test_helper_credentials_reach_a_private_repository(token_registry: Seeded, tmp_path: Path) -> None:
    reg = token_registry.registry
    env = install_helper(tmp_path, "kargotest", {reg.host: (USER, PASSWORD)})
    env |= write_config(tmp_path, {"credHelpers": {reg.host: "kargotest"}})
    with session(tmp_path, env=env) as s:
        assert set(s.repository(f"{reg.host}/private/app").list_tags().tags) == {"1.0.0", "1.1.0"}


@pytest.mark.parametrize("source", ["identitytoken", "helper"])
def test_identity_token_is_exchanged_by_post_at_the_realm(
    token_registry: Seeded, tmp_path: Path, source: str
) -> None:
    reg = token_registry.registry
    assert reg.realm is not None
    if source == "identitytoken":
        env = {
            "DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, REFRESH_TOKEN, form="identitytoken"))
        }
    else:
        env = install_helper(tmp_path, "kargotest", {reg.host: ("<token>", REFRESH_TOKEN)})
        env |= write_config(tmp_path, {"credsStore": "kargotest"})
    posts = reg.realm.posts
    with session(tmp_path, env=env) as s:
        client = s.repository(f"{reg.host}/private/app")
        assert set(client.list_tags().tags) == {"1.0.0", "1.1.0"}
        assert client.head_manifest("1.0.0").digest == token_registry.digests["private/app:1.0.0"]
    assert reg.realm.posts - posts == 1  # one exchange, then the access token is reused


def test_a_wrong_identity_token_is_refused_with_its_source(token_registry: Seeded, tmp_path: Path) -> None:
    from kargo_actions.oci.errors import AuthenticationError

    reg = token_registry.registry
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, "rt-stale", form="identitytoken"))}
    with (
        session(tmp_path, env=env) as s,
        pytest.raises(AuthenticationError, match=r"token service .* refused"),
    ):
        s.repository(f"{reg.host}/private/app").list_tags()
