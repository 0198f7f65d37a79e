"""The Argo CD client against the test server (every exchange checked against swagger.json)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.argocd.client import AppRef, ArgoCDClient, ClientOptions, Connection
from kargo_actions.argocd.errors import (
    ArgoCDAuthError,
    ArgoCDConfigError,
    ArgoCDError,
    ArgoCDNotFoundError,
    ArgoCDUnavailableError,
)
from tests.support.argocd_server import ArgoCDServer, ScriptedAnswer, application, serve_argocd

FAST = ClientOptions(timeout=5, attempts=4, backoff=0.01, backoff_max=0.02)


@pytest.fixture
def server() -> Iterator[ArgoCDServer]:
    with serve_argocd() as s:
        s.add(application("guestbook-dev", labels={"env": "dev"}))
        s.add(application("guestbook-prod", labels={"env": "prod"}))
        s.add(application("guestbook-dev", namespace="team-a", labels={"env": "dev"}, target_revision="team"))
        yield s


def _client(server: ArgoCDServer, sleeps: list[float] | None = None, **env: str) -> ArgoCDClient:
    record = sleeps if sleeps is not None else []
    return ArgoCDClient.from_env({**server.env(), **env}, options=FAST, sleep=record.append)


@pytest.mark.parametrize(
    ("env", "base_url", "insecure"),
    [
        ({"ARGOCD_SERVER": "argocd.example.com"}, "https://argocd.example.com", False),
        ({"ARGOCD_SERVER": "argocd.example.com:8443"}, "https://argocd.example.com:8443", False),
        ({"ARGOCD_SERVER": "https://cd.example.com/argo-cd/"}, "https://cd.example.com/argo-cd", False),
        ({"ARGOCD_SERVER": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080", False),
        ({"ARGOCD_SERVER": "cd:80", "ARGOCD_PLAINTEXT": "true"}, "http://cd:80", False),
        ({"ARGOCD_SERVER": "cd", "ARGOCD_INSECURE": "1"}, "https://cd", True),
        ({"ARGOCD_SERVER": "cd", "ARGOCD_OPTS": "--insecure --plaintext"}, "http://cd", True),
    ],
)
def test_connection_from_env(env: dict[str, str], base_url: str, insecure: bool) -> None:
    conn = Connection.from_env({**env, "ARGOCD_AUTH_TOKEN": "s3cret"})
    assert (conn.base_url, conn.insecure, conn.token) == (base_url, insecure, "s3cret")
    assert "s3cret" not in repr(conn)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["ARGOCD_SERVER: is not set", "ARGOCD_AUTH_TOKEN: is not set"]),
        ({"ARGOCD_SERVER": "cd"}, ["ARGOCD_AUTH_TOKEN: is not set"]),
        ({"ARGOCD_SERVER": "ftp://cd", "ARGOCD_AUTH_TOKEN": "t"}, ["is not an Argo CD server"]),
        ({"ARGOCD_SERVER": "cd", "ARGOCD_AUTH_TOKEN": "t", "ARGOCD_INSECURE": "maybe"}, ["ARGOCD_INSECURE"]),
    ],
)
def test_connection_problems_are_reported_together(env: dict[str, str], expected: list[str]) -> None:
    with pytest.raises(ArgoCDConfigError) as caught:
        Connection.from_env(env)
    text = str(caught.value)
    assert all(e in text for e in expected), text


def test_token_is_masked_in_github_actions(capsys: pytest.CaptureFixture[str]) -> None:
    Connection.from_env({"ARGOCD_SERVER": "cd", "ARGOCD_AUTH_TOKEN": "tok-1", "GITHUB_ACTIONS": "true"})
    Connection.from_env({"ARGOCD_SERVER": "cd", "ARGOCD_AUTH_TOKEN": "tok-2"})
    captured = capsys.readouterr()
    assert captured.err == "::add-mask::tok-1\n"
    assert captured.out == ""  # stdout is the command's result


def test_get_list_patch_sync(server: ArgoCDServer) -> None:
    with _client(server) as client:
        app = client.get_application(AppRef("guestbook-dev", "team-a"))
        assert app.qualified_name == "team-a/guestbook-dev"
        assert app.sources[0].target_revision == "team"
        # no namespace: every namespace Argo CD manages
        assert [a.qualified_name for a in client.list_applications("env in (dev)")] == [
            "argocd/guestbook-dev",
            "team-a/guestbook-dev",
        ]
        assert [a.name for a in client.list_applications("env", namespace="argocd")] == [
            "guestbook-dev",
            "guestbook-prod",
        ]
        patched = client.patch_application(
            AppRef("guestbook-dev"),
            {
                "spec": {
                    "source": {"targetRevision": "v2", "helm": {"parameters": [{"name": "a", "value": "b"}]}}
                }
            },
        )
        assert patched.sources[0].target_revision == "v2"
        assert patched.sources[0].wire()["path"] == "."  # untyped fields kept
        synced = client.sync_application(AppRef("guestbook-dev"), revision="c0ffee", infos={"Reason": "test"})
        assert synced.status.operation_state is not None
        assert synced.status.operation_state.phase == "Running"
        assert synced.status.operation_state.operation is not None
        assert synced.status.operation_state.operation.info[0].value == "test"
        for _ in range(3):
            app = client.get_application(AppRef("guestbook-dev"))
        assert (app.status.sync.status, app.status.health.status, app.synced_revisions) == (
            "Synced",
            "Healthy",
            ["c0ffee"],
        )
    assert server.calls("GET", "guestbook-dev")[0].query == "appNamespace=team-a"
    assert server.app("guestbook-dev", "team-a")["spec"]["source"]["targetRevision"] == "team"


def test_multi_source_sync_sends_positions(server: ArgoCDServer) -> None:
    sources = [
        {"repoURL": "https://charts.example.com", "chart": "app", "targetRevision": "1.0.0"},
        {"repoURL": "https://github.com/example/values.git", "targetRevision": "main", "ref": "values"},
    ]
    server.add(application("multi", sources=sources))
    with _client(server) as client:
        app = client.sync_application(AppRef("multi"), revisions=["2.0.0"], source_positions=[1])
    assert app.operation is not None
    assert app.operation.sync is not None
    assert app.operation.sync.revisions == ["2.0.0", "main"]


@pytest.mark.parametrize(
    ("setup", "error", "expected"),
    [
        (
            "token",
            ArgoCDAuthError,
            ["401 Unauthorized", "ARGOCD_AUTH_TOKEN", "argocd account generate-token"],
        ),
        (
            "forbid",
            ArgoCDAuthError,
            ["403 Forbidden", "may not get application guestbook-dev", "argocd-rbac-cm"],
        ),
        (
            "missing",
            ArgoCDNotFoundError,
            ["404 Not Found", "no application nope in the API server's namespace"],
        ),
        ("400", ArgoCDError, ["400", "scripted 400"]),
    ],
)
def test_refusals_say_what_to_fix(
    server: ArgoCDServer, setup: str, error: type[Exception], expected: list[str]
) -> None:
    env = {"ARGOCD_AUTH_TOKEN": "wrong"} if setup == "token" else {}
    if setup == "forbid":
        server.forbidden.add(("get", "guestbook-dev"))
    if setup == "400":
        server.script(ScriptedAnswer(400))
    sleeps: list[float] = []
    with _client(server, sleeps, **env) as client, pytest.raises(error) as caught:
        client.get_application(AppRef("nope" if setup == "missing" else "guestbook-dev"))
    assert all(e in str(caught.value) for e in expected), str(caught.value)
    assert "wrong" not in str(caught.value)
    assert sleeps == []  # refusals are not retried
    assert len(server.calls()) == 1


def test_5xx_is_retried_with_backoff(server: ArgoCDServer) -> None:
    server.script(ScriptedAnswer(503, times=2))
    sleeps: list[float] = []
    with _client(server, sleeps) as client:
        assert client.get_application(AppRef("guestbook-dev")).name == "guestbook-dev"
    assert len(server.calls()) == 3
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.9  # doubling, with jitter of at most half


def test_a_sync_refused_for_a_running_operation_is_retryable(server: ArgoCDServer) -> None:
    with _client(server) as client:
        client.sync_application(AppRef("guestbook-dev"))
        with pytest.raises(ArgoCDUnavailableError, match=r"another operation is already in progress.*busy"):
            client.sync_application(AppRef("guestbook-dev"))


def test_5xx_after_every_retry_is_retryable(server: ArgoCDServer) -> None:
    server.script(ScriptedAnswer(502, times=10, message="upstream connect error"))
    with _client(server) as client, pytest.raises(ArgoCDUnavailableError) as caught:
        client.sync_application(AppRef("guestbook-dev"))
    assert "502 (Argo CD: upstream connect error) after 4 tries" in str(caught.value)
    assert len(server.calls()) == 4


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # connections queue up; nothing ever answers
        port = listener.getsockname()[1]
        env = {"ARGOCD_SERVER": f"http://127.0.0.1:{port}", "ARGOCD_AUTH_TOKEN": "t"}
        options = ClientOptions(timeout=0.2, attempts=2, backoff=0.01)
        with (
            ArgoCDClient.from_env(env, options=options, sleep=lambda _s: None) as client,
            pytest.raises(ArgoCDUnavailableError, match=r"no answer within 0.2s \(2 tries\)"),
        ):
            client.get_application(AppRef("guestbook"))


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"ARGOCD_SERVER": f"http://127.0.0.1:{port}", "ARGOCD_AUTH_TOKEN": "t"}
    with (
        ArgoCDClient.from_env(env, options=FAST, sleep=lambda _s: None) as client,
        pytest.raises(ArgoCDUnavailableError, match=r"cannot reach Argo CD .* check ARGOCD_SERVER"),
    ):
        client.get_application(AppRef("guestbook"))


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[ArgoCDServer]:
    with serve_argocd(tls_dir=tmp_path / "tls") as s:
        s.add(application("guestbook-dev"))
        yield s


@pytest.mark.parametrize(
    ("how", "ok"),
    [("default", False), ("insecure", True), ("opts", True), ("ca", True)],
)
def test_https_with_a_self_signed_certificate(tls_server: ArgoCDServer, how: str, ok: bool) -> None:
    # ARGOCD_SERVER without a scheme means https, as the argocd CLI
    env = {"ARGOCD_SERVER": tls_server.url.removeprefix("https://"), "ARGOCD_AUTH_TOKEN": tls_server.token}
    env |= {
        "default": {},
        "insecure": {"ARGOCD_INSECURE": "true"},
        "opts": {"ARGOCD_OPTS": "--insecure"},
        "ca": {"SSL_CERT_FILE": tls_server.ca_file},
    }[how]
    with ArgoCDClient.from_env(env, options=FAST, sleep=lambda _s: None) as client:
        if ok:
            assert client.get_application(AppRef("guestbook-dev")).name == "guestbook-dev"
            return
        with pytest.raises(ArgoCDError) as caught:
            client.get_application(AppRef("guestbook-dev"))
    assert not isinstance(caught.value, ArgoCDUnavailableError)  # no retry cures it
    assert "TLS certificate is not trusted" in str(caught.value)
    assert "ARGOCD_INSECURE=true" in str(caught.value)


def test_an_answer_that_is_not_an_application_is_argo_cd_s_failure_said_plainly() -> None:
    from kargo_actions.argocd.client import _application

    with pytest.raises(ArgoCDError) as caught:
        _application({"metadata": "guestbook-dev", "spec": []}, "guestbook-dev")
    message = str(caught.value)
    assert message.startswith(
        "Argo CD answered with something that is not an Application for guestbook-dev: "
    )
    assert "metadata" in message
