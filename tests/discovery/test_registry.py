"""The OCI distribution client against real servers: docker-registry (no auth, basic, token) and a paging server."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.oci.auth import (
    Credentials,
    CredentialsError,
    TokenCache,
    TokenKey,
    credentials_for,
    parse_challenge,
)
from kargo_actions.oci.cache import MetadataCache
from kargo_actions.oci.errors import (
    AuthenticationError,
    DnsError,
    ForbiddenError,
    MalformedResponseError,
    RateLimitedError,
    RegistryServerError,
    RegistryUnreachableError,
    RepositoryNotFoundError,
    TlsError,
)
from kargo_actions.oci.ratelimit import RateLimiter, RetryPolicy, parse_hub_quota, parse_retry_after
from kargo_actions.oci.references import parse_repo_url
from kargo_actions.oci.session import RegistryOptions, RegistrySession
from tests.discovery.registry_server import (
    PASSWORD,
    USER,
    ImageSpec,
    PagingServer,
    Scripted,
    Seeded,
    build_layout,
    docker_config,
    free_port,
    require_tools,
    self_signed,
    start_registry,
)

MakePaging = Callable[..., PagingServer]


def session(
    tmp_path: Path, env: dict[str, str] | None = None, sleeps: list[float] | None = None, **opts: object
) -> RegistrySession:
    return RegistrySession(
        RegistryOptions(**opts),  # type: ignore[arg-type]
        cache=MetadataCache(tmp_path / "cache"),
        env=env if env is not None else {},
        sleep=(sleeps.append if sleeps is not None else time.sleep),
    )


@pytest.mark.parametrize(
    ("repo_url", "host", "name"),
    [
        ("nginx", "registry-1.docker.io", "library/nginx"),
        ("docker.io/nginx", "registry-1.docker.io", "library/nginx"),
        ("index.docker.io/bitnami/redis", "registry-1.docker.io", "bitnami/redis"),
        ("akuity/guestbook", "registry-1.docker.io", "akuity/guestbook"),
        ("ghcr.io/akuity/guestbook", "ghcr.io", "akuity/guestbook"),
        ("localhost/app", "localhost", "app"),
        ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c"),
    ],
)
def test_repo_url_is_split_as_docker_does(repo_url: str, host: str, name: str) -> None:
    repo = parse_repo_url(repo_url)
    assert (repo.host, repo.name, repo.repo_url) == (host, name, repo_url)


@pytest.mark.parametrize("bad", ["", "ghcr.io/app:1.0", "ghcr.io/app@sha256:abc", "/app"])
def test_repo_url_with_tag_or_digest_is_refused(bad: str) -> None:
    with pytest.raises(Exception, match="image"):
        parse_repo_url(bad)


@pytest.mark.parametrize(
    ("host", "scheme"),
    [
        ("127.0.0.1:5000", "http"),
        ("localhost:5000", "http"),
        ("[::1]:5000", "http"),
        ("ghcr.io", "https"),
        ("10.0.0.1:5000", "https"),
        ("registry.internal:5000", "http"),
    ],
)
def test_loopback_and_listed_insecure_hosts_use_plain_http(host: str, scheme: str) -> None:
    opts = RegistryOptions(insecure_registries=frozenset({"registry.internal:5000"}))
    assert opts.scheme(host) == scheme


def test_insecure_registries_come_from_the_environment(tmp_path: Path) -> None:
    with session(tmp_path, env={"KARGO_ACTIONS_INSECURE_REGISTRIES": "reg.lan:5000, other.lan"}) as s:
        assert s.options.scheme("reg.lan:5000") == "http"
        assert s.options.scheme("other.lan") == "http"
        assert s.options.scheme("ghcr.io") == "https"


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"',
            "bearer",
            {"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:a/b:pull"},
        ),
        ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
        (
            'Bearer realm="https://x/t",error="insufficient_scope", scope="a,b"',
            "bearer",
            {"realm": "https://x/t", "error": "insufficient_scope", "scope": "a,b"},
        ),
    ],
)
def test_www_authenticate_is_parsed(header: str, scheme: str, params: dict[str, str]) -> None:
    challenge = parse_challenge(header)
    assert challenge is not None
    assert challenge.scheme == scheme
    assert {k: challenge.param(k) for k in params} == params


def test_token_cache_honours_expires_in() -> None:
    now = [100.0]
    cache = TokenCache(clock=lambda: now[0])
    key = TokenKey("https://r/token", "svc", "repository:a:pull")
    cache.put(key, "tok", 30)
    assert cache.get(key) == "tok"
    assert (
        cache.get(TokenKey("https://r/token", "svc", "repository:b:pull")) is None
    )  # scope is part of the key
    now[0] += 24
    assert cache.get(key) == "tok"
    now[0] += 2  # past 30 s less the safety margin of 5 s
    assert cache.get(key) is None


@pytest.mark.parametrize("form", ["auth", "userpass"])
@pytest.mark.parametrize("key", ["ghcr.io", "https://ghcr.io", "https://ghcr.io/v2/"])
def test_docker_config_credentials(tmp_path: Path, form: str, key: str) -> None:
    directory = docker_config(tmp_path, key, "bob", "pw:with:colons", form=form)
    creds = credentials_for("ghcr.io", {"DOCKER_CONFIG": str(directory)})
    assert creds is not None
    assert (creds.username, creds.password) == ("bob", "pw:with:colons")
    assert "pw" not in repr(creds)
    assert credentials_for("quay.io", {"DOCKER_CONFIG": str(directory)}) is None


def test_docker_hub_config_key_matches_api_host(tmp_path: Path) -> None:
    directory = docker_config(tmp_path, "https://index.docker.io/v1/", "hubuser", "hubpw")
    creds = credentials_for("registry-1.docker.io", {"DOCKER_CONFIG": str(directory)})
    assert creds == Credentials("hubuser", "hubpw", creds.source if creds else "")


def test_home_docker_config_is_read_without_docker_config(tmp_path: Path) -> None:
    docker_config(tmp_path, "quay.io", "q", "p")
    (tmp_path / ".docker").mkdir()
    (tmp_path / "docker-config" / "config.json").rename(tmp_path / ".docker" / "config.json")
    creds = credentials_for("quay.io", {"HOME": str(tmp_path)})
    assert creds is not None
    assert creds.username == "q"


def test_github_token_is_used_for_ghcr_only() -> None:
    env = {"GITHUB_TOKEN": "ghs_abc", "GITHUB_ACTOR": "octocat"}
    creds = credentials_for("ghcr.io", env)
    assert creds is not None
    assert (creds.username, creds.password, creds.source) == (
        "octocat",
        "ghs_abc",
        "GITHUB_TOKEN",
    )
    assert credentials_for("quay.io", env) is None


def test_broken_docker_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "%%%"}}}')
    with pytest.raises(CredentialsError, match=r"config.json auths\['ghcr.io'\]"):
        credentials_for("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})


# -- against docker-registry ---------------------------------------------------------------------


def test_anonymous_registry_tags_and_digest(plain_registry: Seeded, tmp_path: Path) -> None:
    reg = plain_registry.registry
    with session(tmp_path) as s:
        client = s.repository(f"{reg.host}/app/semver")
        mark = reg.mark()
        tags = client.list_tags()
        head = client.head_manifest("1.0.0")
    assert set(tags.tags) >= {"1.0.0", "v1.2.0", "latest"}
    assert head.digest == plain_registry.digests["app/semver:1.0.0"]
    counts = reg.count(mark)
    assert (counts["tags"], counts["head"], counts["manifest"], counts["challenge"]) == (1, 1, 0, 0)


def test_basic_auth_with_docker_config(basic_registry: Seeded, tmp_path: Path) -> None:
    reg = basic_registry.registry
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, PASSWORD))}
    with session(tmp_path, env=env) as s:
        client = s.repository(f"{reg.host}/private/app")
        mark = reg.mark()
        assert client.list_tags().tags == ("1.0.0",)
        assert client.head_manifest("1.0.0").digest == basic_registry.digests["private/app:1.0.0"]
        assert client.head_manifest("1.0.0").digest  # basic is now sent up front: no second challenge
    counts = reg.count(mark)
    assert counts["challenge"] == 1
    assert counts["tags"] + counts["head"] == 3


def test_basic_auth_without_credentials_says_how_to_fix(basic_registry: Seeded, tmp_path: Path) -> None:
    reg = basic_registry.registry
    with session(tmp_path) as s, pytest.raises(AuthenticationError) as err:
        s.repository(f"{reg.host}/private/app").list_tags()
    assert f"image {reg.host}/private/app" in str(err.value)
    assert "no credentials" in str(err.value)
    assert "DOCKER_CONFIG" in str(err.value)


def test_basic_auth_with_wrong_password_says_rejected(basic_registry: Seeded, tmp_path: Path) -> None:
    reg = basic_registry.registry
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, "wrong"))}
    with session(tmp_path, env=env) as s, pytest.raises(AuthenticationError, match="were rejected"):
        s.repository(f"{reg.host}/private/app").list_tags()


def test_token_auth_one_token_for_many_requests(token_registry: Seeded, tmp_path: Path) -> None:
    reg = token_registry.registry
    assert reg.realm is not None
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, PASSWORD))}
    hits = reg.realm.hits
    with session(tmp_path, env=env) as s:
        client = s.repository(f"{reg.host}/private/app")
        mark = reg.mark()
        assert set(client.list_tags().tags) == {"1.0.0", "1.1.0"}
        for tag in ("1.0.0", "1.1.0"):
            assert client.head_manifest(tag).digest == token_registry.digests[f"private/app:{tag}"]
    assert reg.realm.hits - hits == 1
    counts = reg.count(mark)
    assert counts["challenge"] == 1
    assert counts["tags"] == 1
    assert counts["head"] == 2
    # A second run learns the realm from the cache: no 401 round trip at all.
    with session(tmp_path, env=env) as s:
        mark = reg.mark()
        s.repository(f"{reg.host}/private/app").list_tags()
    assert reg.count(mark)["challenge"] == 0


def test_token_auth_anonymous_pull_of_a_public_repository(token_registry: Seeded, tmp_path: Path) -> None:
    reg = token_registry.registry
    with session(tmp_path) as s:
        assert set(s.repository(f"{reg.host}/public/app").list_tags().tags) == {"1.0.0", "1.1.0"}


def test_token_auth_private_repository_without_credentials(token_registry: Seeded, tmp_path: Path) -> None:
    reg = token_registry.registry
    with session(tmp_path) as s, pytest.raises(AuthenticationError, match="no credentials"):
        s.repository(f"{reg.host}/private/app").list_tags()


def test_token_realm_refusing_the_password(token_registry: Seeded, tmp_path: Path) -> None:
    reg = token_registry.registry
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, "nope"))}
    with (
        session(tmp_path, env=env) as s,
        pytest.raises(AuthenticationError, match=r"token service .* refused"),
    ):
        s.repository(f"{reg.host}/private/app").list_tags()


def test_missing_repository_is_a_404_error(plain_registry: Seeded, tmp_path: Path) -> None:
    reg = plain_registry.registry
    with session(tmp_path) as s, pytest.raises(RepositoryNotFoundError, match=r"no/such.*NAME_UNKNOWN"):
        s.repository(f"{reg.host}/no/such").list_tags()


def test_unreachable_registry(tmp_path: Path) -> None:
    port = free_port()
    with session(tmp_path) as s, pytest.raises(RegistryUnreachableError) as err:
        s.repository(f"127.0.0.1:{port}/app").list_tags()
    assert f"image 127.0.0.1:{port}/app: registry unreachable" in str(err.value)


def test_dns_failure(tmp_path: Path) -> None:
    with (
        session(tmp_path) as s,
        pytest.raises(DnsError, match=r"image no-such-host.invalid/app: DNS lookup failed"),
    ):
        s.repository("no-such-host.invalid/app").list_tags()


def test_tls_error_then_insecure_skip_tls_verify(tmp_path: Path) -> None:
    require_tools()
    cert, key, _ = self_signed(tmp_path / "tls")
    reg = start_registry(tmp_path / "tls-registry", tls=(cert, key))
    try:
        layout = tmp_path / "layout"
        build_layout(layout, "1.0.0", [ImageSpec(salt="tls")])
        reg.push(layout, "1.0.0", "app")
        opts = {"tls_registries": frozenset({reg.host})}
        with (
            session(tmp_path, **opts) as s,
            pytest.raises(TlsError, match=r"TLS handshake failed.*CERTIFICATE"),
        ):
            s.repository(f"{reg.host}/app").list_tags()
        with session(tmp_path, **opts) as s:
            assert s.repository(f"{reg.host}/app", insecure_skip_tls_verify=True).list_tags().tags == (
                "1.0.0",
            )
    finally:
        reg.stop()


# -- paging, retries and odd answers, against a server of our own ----------------------------------


def _tags(n: int) -> list[str]:
    return [f"t{i:05d}" for i in range(n)]


@pytest.mark.parametrize(
    ("mode", "cap", "total", "pages"),
    [
        ("link", 100, 250, 3),  # ghcr.io pages by 100 with Link rel="next"
        ("link", 50, 50, 1),  # exactly one page, no Link
        ("last", 1000, 2500, 3),  # only n/last honoured: full pages lead to `last`
        ("last", 1000, 2000, 3),  # a full last page costs one empty page more
        ("all", 0, 2500, 1),  # distribution 2.8: everything at once, more than n
    ],
)
def test_tag_paging(
    tmp_path: Path, paging_server: MakePaging, mode: str, cap: int, total: int, pages: int
) -> None:
    server = paging_server(_tags(total), mode=mode, cap=cap)
    with session(tmp_path) as s:
        listing = s.repository(f"{server.host}/app").list_tags()
    assert sorted(listing.tags) == _tags(total)
    assert listing.pages == pages
    assert not listing.truncated
    tag_requests = [h for h in server.hits if "/tags/list" in h]
    assert len(tag_requests) == pages
    assert "n=1000" in tag_requests[0] or mode == "all"


def test_server_ignoring_last_stops_after_a_repeat(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(1000), mode="all")
    with session(tmp_path) as s:
        listing = s.repository(f"{server.host}/app").list_tags()
    assert len(listing.tags) == 1000
    assert listing.pages == 2


def test_page_cap_cuts_with_a_warning(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(500), mode="link", cap=100)
    with session(tmp_path, max_pages=3) as s:
        listing = s.repository(f"{server.host}/app").list_tags()
        warnings = list(s.warnings)
    assert listing.truncated
    assert len(listing.tags) == 300
    assert len(warnings) == 1
    assert "cut at 3 pages (300 tags)" in warnings[0]


def test_429_is_retried_honouring_retry_after(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3), mode="link")
    server.script["/v2/app/tags/list"] = [Scripted(429, b"slow down", {"Retry-After": "7"}, times=2)]
    sleeps: list[float] = []
    with session(tmp_path, sleeps=sleeps) as s:
        assert len(s.repository(f"{server.host}/app").list_tags().tags) == 3
    assert sleeps == [7.0, 7.0]
    assert len(server.hits) == 3


def test_5xx_is_retried_with_backoff_then_fails(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3))
    server.script["/v2/app/tags/list"] = [Scripted(503, b"down", times=10)]
    sleeps: list[float] = []
    with (
        session(tmp_path, sleeps=sleeps, retry=RetryPolicy(attempts=4, base_delay=0.5)) as s,
        pytest.raises(RegistryServerError, match=r"answered 503 after 4 attempts"),
    ):
        s.repository(f"{server.host}/app").list_tags()
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(server.hits) == 4


def test_5xx_once_then_success(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3))
    server.script["/v2/app/tags/list"] = [Scripted(502, b"", times=1)]
    with session(tmp_path, sleeps=[]) as s:
        assert len(s.repository(f"{server.host}/app").list_tags().tags) == 3


def test_429_forever_is_rate_limited_error(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3))
    server.script["/v2/app/tags/list"] = [Scripted(429, b"", {"Retry-After": "1"}, times=10)]
    with session(tmp_path, sleeps=[]) as s, pytest.raises(RateLimitedError, match="429"):
        s.repository(f"{server.host}/app").list_tags()


def test_docker_hub_quota_used_up_stops_before_asking(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3))
    server.extra_headers["ratelimit-remaining"] = "0;w=21600"
    with session(tmp_path) as s:
        client = s.repository(f"{server.host}/app")
        client.list_tags()  # the answer that says the quota is gone
        with pytest.raises(RateLimitedError, match="window of 21600s"):
            client.head_manifest("t00000")
    assert len(server.hits) == 1  # nothing more was sent


def test_forbidden(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3))
    server.script["/v2/app/tags/list"] = [Scripted(403, b'{"errors":[{"code":"DENIED"}]}')]
    with session(tmp_path) as s, pytest.raises(ForbiddenError, match=rf"image {server.host}/app: .*403"):
        s.repository(f"{server.host}/app").list_tags()


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"name": "app"}', b'{"tags": [1, 2]}'])
def test_malformed_tag_list(tmp_path: Path, paging_server: MakePaging, body: bytes) -> None:
    server = paging_server(_tags(3))
    server.script["/v2/app/tags/list"] = [Scripted(200, body, {"Content-Type": "application/json"})]
    with (
        session(tmp_path) as s,
        pytest.raises(MalformedResponseError, match=rf"image {server.host}/app: tag list"),
    ):
        s.repository(f"{server.host}/app").list_tags()


def test_malformed_manifest_json(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(1))
    server.script["/v2/app/manifests/t00000"] = [Scripted(200, b"{not json", {"Content-Type": "x"})]
    with session(tmp_path) as s:
        client = s.repository(f"{server.host}/app")
        with pytest.raises(MalformedResponseError, match="is not JSON"):
            client.parse_manifest(client.get_manifest("t00000"))


# -- pacing ---------------------------------------------------------------------------------------


def test_rate_limiter_spaces_requests_after_a_burst() -> None:
    limiter = RateLimiter(rate=50, in_flight=50)
    start = time.monotonic()
    for _ in range(100):  # 50 at once, then 50 more at 50/s
        with limiter.slot():
            pass
    elapsed = time.monotonic() - start
    assert 0.85 <= elapsed <= 3.0  # the floor is the point; the ceiling only catches a stuck limiter


def test_rate_limiter_caps_requests_in_flight() -> None:
    limiter = RateLimiter(rate=1000, in_flight=3)
    active, peak = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        with limiter.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 3


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5", 5.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0), ("soon", None), (None, None)],
)
def test_retry_after_forms(value: str | None, seconds: float | None) -> None:
    now = 1445412480.0  # 07:28:00 that day
    assert parse_retry_after(value, now=now) == seconds


def test_hub_quota_header() -> None:
    quota = parse_hub_quota("97;w=21600")
    assert quota is not None
    assert (quota.remaining, quota.window_seconds) == (97, 21600)
    assert parse_hub_quota("") is None


def test_docker_config_json_in_session_env(basic_registry: Seeded, tmp_path: Path) -> None:
    """DOCKER_CONFIG from the process environment (what a workflow sets) is honoured too."""
    reg = basic_registry.registry
    directory = docker_config(tmp_path, reg.host, USER, PASSWORD)
    config = json.loads((directory / "config.json").read_text())
    assert reg.host in config["auths"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_CONFIG", str(directory))
        with RegistrySession(cache=MetadataCache(tmp_path / "c")) as s:
            assert s.repository(f"{reg.host}/private/app").list_tags().tags == ("1.0.0",)


def test_pacing_and_page_cap_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "KARGO_ACTIONS_REGISTRY_RATE": "5",
        "KARGO_ACTIONS_REGISTRY_IN_FLIGHT": "3",
        "KARGO_ACTIONS_REGISTRY_MAX_PAGES": "7",
    }
    with RegistrySession(cache=MetadataCache(tmp_path), env=env) as s:
        assert (s.options.rate, s.options.in_flight, s.options.max_pages) == (5.0, 3, 7)
        assert s.limiter("ghcr.io").rate == 5.0
    with pytest.raises(InvalidInputError, match="KARGO_ACTIONS_REGISTRY_RATE: '-1' is not a positive number"):
        RegistrySession(cache=MetadataCache(tmp_path), env={"KARGO_ACTIONS_REGISTRY_RATE": "-1"})


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (RegistryUnreachableError, True),
        (DnsError, True),
        (RateLimitedError, True),
        (RegistryServerError, True),
        (TlsError, False),
        (AuthenticationError, False),
        (ForbiddenError, False),
        (RepositoryNotFoundError, False),
        (MalformedResponseError, False),
    ],
)
def test_transient_failures_are_retryable_errors(kind: type[Exception], retryable: bool) -> None:
    from kargo_actions.errors import ExitCode, RetryableError

    err = kind("ghcr.io/org/app", "cause")
    assert isinstance(err, RetryableError) is retryable
    assert str(err) == "image ghcr.io/org/app: cause"
    assert getattr(err, "exit_code", None) == ExitCode.FAILED


def test_session_from_settings_env_wins_over_the_manifest(tmp_path: Path) -> None:
    from kargo_actions.model.settings import SettingsSpec

    spec = SettingsSpec(cache_dir=str(tmp_path / "from-file"), insecure_registries=["Reg.LAN:5000"])
    with RegistrySession.from_settings(spec, env={}) as s:
        assert s.cache.root == tmp_path / "from-file" / "images" / "v1"
        assert s.options.scheme("reg.lan:5000") == "http"
    env = {
        "KARGO_ACTIONS_CACHE": str(tmp_path / "from-env"),
        "KARGO_ACTIONS_INSECURE_REGISTRIES": "other.lan",
    }
    with RegistrySession.from_settings(spec, env=env) as s:
        assert s.cache.root == tmp_path / "from-env" / "images" / "v1"
        assert s.options.scheme("other.lan") == "http"
        assert s.options.scheme("reg.lan:5000") == "https"  # the variable replaces the file's list
    from kargo_actions.model.settings import Settings

    resolved = Settings(spec=spec).resolved(env, insecure_registries=["flag.lan"])
    with RegistrySession.from_settings(resolved, env={}) as s:
        assert s.options.scheme("flag.lan") == "http"
        assert s.options.scheme("other.lan") == "https"
        assert s.cache.root == tmp_path / "from-env" / "images" / "v1"
    with RegistrySession.from_settings(None, env={"KARGO_ACTIONS_CACHE": str(tmp_path / "e")}) as s:
        assert s.cache.root == tmp_path / "e" / "images" / "v1"
        assert s.options.scheme("reg.lan:5000") == "https"


def test_link_to_another_host_is_refused(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(3))
    server.script["/v2/app/tags/list"] = [
        Scripted(
            200, b'{"tags": ["a"]}', {"Link": '<http://elsewhere.example/v2/app/tags/list?n=1>; rel="next"'}
        )
    ]
    with session(tmp_path) as s, pytest.raises(MalformedResponseError, match="Link points to another host"):
        s.repository(f"{server.host}/app").list_tags()
    assert len(server.hits) == 1


def test_secrets_are_masked_in_github_actions(
    token_registry: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = token_registry.registry
    password = f"pw-{uuid.uuid4().hex}"
    directory = docker_config(tmp_path, "quay.io", "q", password)
    credentials_for("quay.io", {"DOCKER_CONFIG": str(directory)})
    assert "add-mask" not in capsys.readouterr().err  # outside Actions nothing is written
    credentials_for("quay.io", {"DOCKER_CONFIG": str(directory), "GITHUB_ACTIONS": "true"})
    assert f"::add-mask::{password}\n" in capsys.readouterr().err
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, PASSWORD)), "GITHUB_ACTIONS": "true"}
    with session(tmp_path, env=env) as s:
        s.repository(f"{reg.host}/private/app").list_tags()
    masked = [line.removeprefix("::add-mask::") for line in capsys.readouterr().err.splitlines()]
    assert any(m.count(".") == 2 and len(m) > 100 for m in masked)  # the realm's JWT


def test_token_is_fetched_again_after_expires_in(token_registry: Seeded, tmp_path: Path) -> None:
    reg = token_registry.registry
    assert reg.realm is not None
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, PASSWORD))}
    reg.realm.expires_in = 6  # kept 6 s less the 5 s margin: 1 s
    try:
        with session(tmp_path, env=env) as s:
            client = s.repository(f"{reg.host}/private/app")
            hits = reg.realm.hits
            client.list_tags()
            client.head_manifest("1.0.0")
            assert reg.realm.hits - hits == 1
            time.sleep(1.1)
            client.head_manifest("1.0.0")
            assert reg.realm.hits - hits == 2
    finally:
        reg.realm.expires_in = 300


def test_well_known_realm_saves_the_401_and_a_wrong_one_is_corrected(
    token_registry: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kargo_actions.oci import session as session_module
    from kargo_actions.oci.cache import AuthHint

    reg = token_registry.registry
    assert reg.realm is not None
    with session(tmp_path / "ghcr") as s:
        hint = s.auth_hint("ghcr.io")
        assert hint is not None
        assert (hint.scheme, hint.realm, hint.service) == ("bearer", "https://ghcr.io/token", "ghcr.io")
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, PASSWORD))}
    right = AuthHint(host=reg.host, scheme="bearer", realm=reg.realm.url, service=reg.realm.service)
    monkeypatch.setitem(session_module.WELL_KNOWN_AUTH, reg.host, right)
    with session(tmp_path / "a", env=env) as s:
        mark = reg.mark()
        assert len(s.repository(f"{reg.host}/private/app").list_tags().tags) == 2
    assert reg.count(mark)["challenge"] == 0  # first run, empty cache, no 401
    wrong = AuthHint(host=reg.host, scheme="bearer", realm=reg.realm.url, service="moved-service")
    monkeypatch.setitem(session_module.WELL_KNOWN_AUTH, reg.host, wrong)
    with session(tmp_path / "b", env=env) as s:
        mark = reg.mark()
        assert len(s.repository(f"{reg.host}/private/app").list_tags().tags) == 2
        assert s.auth_hint(reg.host) == right  # learned from the registry's challenge
    assert reg.count(mark)["challenge"] == 1


def test_token_service_5xx_is_retried(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(2), mode="all")
    challenge = f'Bearer realm="http://{server.host}/token",service="svc"'
    server.script["/v2/app/tags/list"] = [Scripted(401, b"", {"WWW-Authenticate": challenge})]
    server.script["/token"] = [
        Scripted(503, b"busy", {"Retry-After": "3"}),
        Scripted(200, b'{"token": "abc", "expires_in": 300}', {"Content-Type": "application/json"}),
    ]
    sleeps: list[float] = []
    with session(tmp_path, sleeps=sleeps) as s:
        assert len(s.repository(f"{server.host}/app").list_tags().tags) == 2
    assert sleeps == [3.0]
    assert [h.split("?")[0] for h in server.hits] == [
        "GET /v2/app/tags/list",
        "GET /token",
        "GET /token",
        "GET /v2/app/tags/list",
    ]


def test_a_revoked_token_is_replaced_once(tmp_path: Path, paging_server: MakePaging) -> None:
    server = paging_server(_tags(2), mode="all")
    challenge = {"WWW-Authenticate": f'Bearer realm="http://{server.host}/token",service="svc"'}
    token = Scripted(
        200, b'{"token": "abc", "expires_in": 300}', {"Content-Type": "application/json"}, times=5
    )
    server.script["/token"] = [token]
    server.script["/v2/app/tags/list"] = [Scripted(401, b"", challenge)]
    with session(tmp_path) as s:
        client = s.repository(f"{server.host}/app")
        client.list_tags()  # learns the realm, gets a token
        server.script["/v2/app/tags/list"] = [Scripted(401, b"", challenge)]  # the registry now refuses it
        assert len(client.list_tags().tags) == 2
        server.script["/v2/app/tags/list"] = [Scripted(401, b"", challenge, times=3)]
        with pytest.raises(AuthenticationError):  # refused again right after a fresh token: give up
            client.list_tags()
    assert sum(1 for h in server.hits if h.startswith("GET /token")) == 3
