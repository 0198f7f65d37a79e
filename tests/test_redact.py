"""kargo_actions.redact: URL passwords, http(s) userinfo tokens and registered secrets become `***`; the
Freight ID of a URL with a password is the one of its redacted form (Kargo's for http(s)); the loader warns
at each credential written in a manifest, with FILE:LINE:COL, and registers it."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.freight.identity import freight_id, normalize_git_url
from kargo_actions.manifests import load_project
from kargo_actions.model.freight import FreightOrigin, GitCommit
from kargo_actions.redact import (
    RedactingStream,
    add_secret,
    redact,
    redact_data,
    register_secret,
    url_password,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pa55word@host/org/repo.git", "https://user:***@host/org/repo.git"),
        ("http://x-access-token:ghs_abc@127.0.0.1:8080/r", "http://x-access-token:***@127.0.0.1:8080/r"),
        ("https://ghp_tokenalone@github.com/o/r", "https://***@github.com/o/r"),
        ("ssh://git:pw@host/o/r", "ssh://git:***@host/o/r"),
        # a raw `@` in the password: the userinfo ends at the authority's last `@`, as Go reads it
        ("https://u:p@ss@host/r", "https://u:***@host/r"),
        (
            "fatal: unable to access 'https://u:s3cr3t@h/r.git/': 403",
            "fatal: unable to access 'https://u:***@h/r.git/': 403",
        ),
        ('{"repoURL":"https://u:pw@h/r"}', '{"repoURL":"https://u:***@h/r"}'),
        # no secret: a user alone outside http(s), scp-style, mail addresses, `@` past the authority
        ("ssh://git@github.com/o/r", "ssh://git@github.com/o/r"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("mail a@b.example", "mail a@b.example"),
        ("https://host/path?who=me@example", "https://host/path?who=me@example"),
        ("https://u:***@h/r", "https://u:***@h/r"),
    ],
)
def test_redact_table(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_password_found_in_a_url_is_redacted_where_it_stands_alone_too() -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    assert redact(f"https://u:{secret}@h/r") == "https://u:***@h/r"
    assert redact(f"git said: auth failed for {secret}") == "git said: auth failed for ***"


def test_registered_secrets_in_every_form_and_short_values_left_alone() -> None:
    secret = f"p@ss/{uuid.uuid4().hex}"
    add_secret(secret)
    assert redact(f"a {secret} b") == "a *** b"
    assert redact(f"a {secret.replace('@', '%40').replace('/', '%2F')} b") == "a *** b"
    add_secret("true")  # too short to replace: every `true` in a record would go
    assert redact('{"ok": true}') == '{"ok": true}'


def test_redact_data_keeps_json_valid_and_redacts_keys_and_values() -> None:
    secret = f'q"uote\\{uuid.uuid4().hex}'
    add_secret(secret)
    data = {"url": "https://u:pw@h/r", secret: [secret, 1, None, True], "n": 2}
    out = redact_data(data)
    assert out == {"url": "https://u:***@h/r", "***": ["***", 1, None, True], "n": 2}
    assert json.loads(json.dumps(out)) == out


def test_url_password() -> None:
    assert url_password("https://u:pw@h/r") == "pw"
    assert url_password("https://tok@h/r") == "tok"
    assert url_password("ssh://git@h/r") == ""
    assert url_password("https://h/r") == ""
    assert url_password("https://u:***@h/r") == ""


def test_the_stream_redacts_whole_lines_and_passes_mask_commands() -> None:
    inner = io.StringIO()
    stream = RedactingStream(inner)
    stream.write("clone https://u:se")
    assert inner.getvalue() == ""  # held until the line is whole
    stream.write("cret-1@h/r done\n::add-mask::secret-1\npartial https://u:x@h")
    stream.flush()
    assert inner.getvalue() == "clone https://u:***@h/r done\n::add-mask::secret-1\npartial https://u:***@h"


def test_register_secret_masks_in_actions_once(capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    register_secret(secret, {})
    assert capsys.readouterr().err == ""
    register_secret(secret, {"GITHUB_ACTIONS": "true"})
    register_secret(secret, {"GITHUB_ACTIONS": "true"})
    assert capsys.readouterr().err == f"::add-mask::{secret}\n"
    assert redact(secret) == "***"


def test_freight_ids_of_redacted_urls() -> None:
    origin = FreightOrigin(name="app")

    def fid(url: str) -> str:
        return freight_id(origin, commits=[GitCommit(repo_url=url, id="a" * 40)])

    # http(s): Kargo drops the user info, so the ID is Kargo's with or without the password
    assert (
        fid("https://u:pw@github.com/o/r.git")
        == fid("https://github.com/o/r")
        == fid("https://u:***@github.com/o/r")
    )
    # ssh:// with a password: the password is no input (Kargo's would differ), the redacted record agrees
    assert fid("ssh://git:pw@host/o/r") == fid("ssh://git:***@host/o/r") != fid("ssh://git@host/o/r")
    assert normalize_git_url("ssh://git:pw@host/o/r.git") == normalize_git_url("ssh://git:***@host/o/r")
    assert normalize_git_url("https://u:pw@h/r?x=1") == "https://u:***@h/r?x=1"  # returned as is, redacted


WAREHOUSE = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
spec:
  subscriptions:
  - git:
      repoURL: https://kargo:{secret}@git.example/org/app.git
      branch: main
"""


def test_the_loader_warns_at_each_credential_and_registers_it(tmp_path: Path) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    config = tmp_path / ".kargo"
    config.mkdir()
    (config / "warehouse.yaml").write_text(WAREHOUSE.format(secret=secret))
    project = load_project(config)
    [warning] = project.warnings
    assert (warning.line, warning.col, warning.path) == (8, 16, "spec.subscriptions[0].git.repoURL")
    assert "holds a credential" in warning.message
    assert "credential helper or http.extraHeader" in warning.hint
    assert secret not in str(warning)
    assert project.warehouses["app"].spec.subscriptions[0].git is not None  # accepted, as Kargo does
    assert redact(f"bare {secret}") == "bare ***"
    with pytest.raises(InvalidInputError) as err:
        load_project(config, strict=True)
    assert [p.line for p in err.value.problems] == [8]
