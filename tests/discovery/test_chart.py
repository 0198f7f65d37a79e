"""Chart discovery against a real HTTP chart repository served by the tests, and index scanning on real files."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.discovery.chart import (
    ChartAuthenticationError,
    ChartDiscoveryResult,
    ChartIndexCache,
    ChartIndexMalformedError,
    ChartIndexTooLargeError,
    ChartNoMatchingVersionError,
    ChartNotFoundError,
    ChartRepositoryNotFoundError,
    ChartRepositoryUnreachableError,
    ChartWatch,
    chart_versions_in_index,
    discover_charts,
)
from kargo_actions.errors import InvalidInputError
from tests.discovery.registry_server import PASSWORD, USER, Seeded, docker_config
from tests.support.chart_repo_server import ChartRepoServer, make_index, serve_charts

CHARTS = {
    "nginx": ["1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0", "0.9", "not-a-version"],
    "nginx-ingress": ["5.0.0"],
    "redis": ["17.0.0", "17.1.0"],
}


@pytest.fixture
def repo() -> Iterator[ChartRepoServer]:
    with serve_charts({"/stable/index.yaml": make_index(CHARTS)}) as server:
        yield server


def one(watch: ChartWatch, **kwargs: object) -> ChartDiscoveryResult:
    (result,) = discover_charts([watch], **kwargs)  # type: ignore[arg-type]
    return result


VERSION_CASES = [
    ("", 20, ["2.0.0", "1.2.0-rc.1", "1.1.0", "1.0.0", "0.9"]),
    ("^1.0.0", 20, ["1.1.0", "1.0.0"]),
    (">=1.0.0-0 <2.0.0", 20, ["1.2.0-rc.1", "1.1.0", "1.0.0"]),
    ("", 2, ["2.0.0", "1.2.0-rc.1"]),
]


@pytest.mark.parametrize(("constraint", "limit", "expected"), VERSION_CASES)
def test_versions_from_a_classic_repository(
    repo: ChartRepoServer, constraint: str, limit: int, expected: list[str]
) -> None:
    watch = ChartWatch(f"{repo.url}/stable", "nginx", semver_constraint=constraint, discovery_limit=limit)
    result = one(watch)
    assert result.error is None
    assert result.versions == expected
    chart = result.charts[0].to_freight_chart("web")
    assert (chart.repo_url, chart.name, chart.version) == (watch.repo_url, "nginx", expected[0])


def test_one_request_per_repository_and_304_on_the_next_run(repo: ChartRepoServer) -> None:
    watches = [ChartWatch(f"{repo.url}/stable", "nginx"), ChartWatch(f"{repo.url}/stable/", "redis")]
    cache = ChartIndexCache()
    first = discover_charts(watches, cache=cache)
    assert [r.versions[0] for r in first] == ["2.0.0", "17.1.0"]
    assert repo.count("/stable/index.yaml") == 1
    assert cache.downloads == 1
    assert "gzip" in repo.request_headers[0]["Accept-Encoding"]

    second_cache = ChartIndexCache()
    second = discover_charts(watches, cache=second_cache)
    assert [r.versions for r in second] == [r.versions for r in first]
    assert repo.count("/stable/index.yaml", 304) == 1
    assert second_cache.revalidations == 1
    assert second_cache.downloads == 0
    assert repo.request_headers[-1]["If-None-Match"].startswith('"')
    assert repo.request_headers[-1]["If-Modified-Since"] == "Tue, 01 Oct 2024 00:00:00 GMT"

    repo.files["/stable/index.yaml"] = make_index({**CHARTS, "nginx": ["3.0.0"]})
    third = discover_charts(watches[:1], cache=ChartIndexCache())
    assert third[0].versions == ["3.0.0"]


def test_undeclared_gzip_body_is_decompressed(repo: ChartRepoServer) -> None:
    import gzip

    repo.files["/gz/index.yaml"] = gzip.compress(make_index({"app": ["0.1.0"]}))
    assert one(ChartWatch(f"{repo.url}/gz", "app")).versions == ["0.1.0"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_input_gives_typed_errors_and_others_still_run(repo: ChartRepoServer) -> None:
    repo.status["/private/index.yaml"] = 401
    repo.files["/html/index.yaml"] = b"<html><body>Welcome</body></html>\n"
    repo.files["/big/index.yaml"] = make_index({f"c{i}": ["1.0.0"] for i in range(200)})
    watches = [
        ChartWatch(f"{repo.url}/private", "nginx"),
        ChartWatch(f"{repo.url}/missing", "nginx"),
        ChartWatch(f"{repo.url}/html", "nginx"),
        ChartWatch(f"http://127.0.0.1:{_closed_port()}/x", "nginx"),
        ChartWatch(f"{repo.url}/stable", "postgres"),
        ChartWatch(f"{repo.url}/stable", "nginx", semver_constraint="^7.0.0"),
        ChartWatch(f"{repo.url}/big", "c1"),
        ChartWatch(f"{repo.url}/stable", "redis", subscription_name="cache"),
    ]
    results = discover_charts(watches, cache=ChartIndexCache(max_bytes=20_000))
    expected = [
        (ChartAuthenticationError, "answered 401"),
        (ChartRepositoryNotFoundError, "answered 404"),
        (ChartIndexMalformedError, "has no entries: map"),
        (ChartRepositoryUnreachableError, "cannot reach"),
        (ChartNotFoundError, "no chart named 'postgres'"),
        (ChartNoMatchingVersionError, "matches semverConstraint '^7.0.0'"),
        (ChartIndexTooLargeError, "larger than 0 MiB"),
    ]
    for result, watch, (kind, text) in zip(results, watches, expected, strict=False):
        assert isinstance(result.error, kind), result.error
        assert text in str(result.error)
        assert str(result.error).startswith(f"chart subscription {watch.repo_url} chart {watch.name}")
    assert results[-1].error is None
    assert results[-1].versions == ["17.1.0", "17.0.0"]


def test_dns_failure_is_unreachable() -> None:
    (result,) = discover_charts([ChartWatch("https://no-such-host.invalid/charts", "nginx")])
    assert isinstance(result.error, ChartRepositoryUnreachableError)
    assert "cannot reach https://no-such-host.invalid/charts/index.yaml" in str(result.error)


def test_invalid_fields_are_reported_together() -> None:
    with pytest.raises(InvalidInputError) as info:
        discover_charts(
            [
                ChartWatch("https://charts.example.com", "", semver_constraint="nope"),
                ChartWatch("ftp://charts.example.com", "x", discovery_limit=0),
            ]
        )
    text = str(info.value)
    assert "subscriptions[0].chart.semverConstraint" in text
    assert "subscriptions[0].chart.name" in text
    assert "subscriptions[1].chart.repoURL" in text
    assert "subscriptions[1].chart.discoveryLimit" in text


INDEX_LAYOUTS = [
    ("helm", make_index(CHARTS)),
    ("indented lists", make_index(CHARTS, list_indent=2)),
    (
        "quoted and commented",
        b"# generated\napiVersion: v1\nentries:\n  'nginx':   # the web server\n"
        b"  - name: nginx\n    version: '1.0.0'\n  - version: \"2.0.0\"\n    name: nginx\n"
        b"  redis: []\ngenerated: now\n",
    ),
    (
        "flow items (YAML fallback)",
        b"apiVersion: v1\nentries:\n  nginx:\n  - {name: nginx, version: 1.0.0}\n  - {name: nginx, version: 2.0.0}\n",
    ),
    (
        "json",
        json.dumps(
            {"apiVersion": "v1", "entries": {"nginx": [{"version": "1.0.0"}, {"version": "2.0.0"}]}}
        ).encode(),
    ),
]


@pytest.mark.parametrize(("layout", "body"), INDEX_LAYOUTS, ids=[layout for layout, _ in INDEX_LAYOUTS])
def test_index_scanner_layouts(tmp_path: Path, layout: str, body: bytes) -> None:
    path = tmp_path / "index.yaml"
    path.write_bytes(body)
    versions = chart_versions_in_index(path, "nginx")
    assert versions is not None
    assert "2.0.0" in versions
    assert "1.0.0" in versions
    assert "9.9.9" not in versions  # a dependency's version is not the chart's
    assert chart_versions_in_index(path, "nginx-ingres") is None
    assert chart_versions_in_index(path, "ngin") is None


def test_index_scanner_ignores_keys_outside_entries(tmp_path: Path) -> None:
    path = tmp_path / "index.yaml"
    path.write_bytes(
        b"apiVersion: v1\nentries:\n  a:\n  - version: 1.0.0\nextra:\n  nginx:\n  - version: 6.6.6\n"
    )
    assert chart_versions_in_index(path, "nginx") is None
    assert chart_versions_in_index(path, "a") == ["1.0.0"]
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"apiVersion: v1\nentries: {}\n")
    assert chart_versions_in_index(empty, "a") is None
    assert chart_versions_in_index(tmp_path / "index.yaml", "redis") is None


def test_watch_from_the_warehouse_model() -> None:
    from kargo_actions.model.warehouse import ChartSubscription

    sub = ChartSubscription.model_validate(
        {
            "repoURL": "https://charts.example.com",
            "name": "nginx",
            "semverConstraint": "^1",
            "discoveryLimit": 3,
        }
    )
    watch = ChartWatch.from_subscription(sub, name="web")
    assert (watch.repo_url, watch.name, watch.semver_constraint, watch.discovery_limit) == (
        "https://charts.example.com",
        "nginx",
        "^1",
        3,
    )
    assert watch.subject == "chart subscription https://charts.example.com chart nginx (name web)"


def _push_chart_tags(seeded: Seeded, name: str, tags: list[str]) -> None:
    """An OCI chart as helm pushes it: a manifest with a Helm config blob and a chart layer, under each tag."""
    config, layer = b'{"name":"demo","version":"0.0.0"}', b"not really a tgz"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                "size": len(layer),
            }
        ],
    }
    body = json.dumps(manifest).encode()
    seeded.registry.upload(name, [config, layer], [(tag, body) for tag in tags])


def test_oci_chart_versions_from_a_real_registry(plain_registry: Seeded) -> None:
    _push_chart_tags(
        plain_registry,
        "charts/demo",
        ["1.0.0", "1.1.0", "1.2.0_build.5", "2.0.0-rc.1", "v1.3.0", "1.4", "latest"],
    )
    mark = plain_registry.registry.mark()
    watch = ChartWatch(f"oci://{plain_registry.host}/charts/demo", semver_constraint="^1.0.0")
    result = one(watch)
    assert result.error is None
    # Helm's OCI tags are strict semver with `_` for `+`: v1.3.0 and 1.4 are not chart versions
    assert result.versions == ["1.2.0+build.5", "1.1.0", "1.0.0"]
    assert result.charts[0].to_freight_chart().name == ""
    assert plain_registry.registry.count(since=mark)["tags"] == 1  # one tag list, no manifest reads
    assert plain_registry.registry.count(since=mark)["manifest"] == 0


def test_oci_chart_errors(
    plain_registry: Seeded, basic_registry: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _push_chart_tags(basic_registry, "private/chart", ["1.0.0"])
    missing, private, nomatch = discover_charts(
        [
            ChartWatch(f"oci://{plain_registry.host}/charts/absent"),
            ChartWatch(f"oci://{basic_registry.host}/private/chart"),
            ChartWatch(f"oci://{plain_registry.host}/app/semver", semver_constraint=">=9.0.0"),
        ]
    )
    assert isinstance(missing.error, ChartRepositoryNotFoundError)
    assert isinstance(private.error, ChartAuthenticationError)
    assert str(private.error).startswith(f"chart subscription oci://{basic_registry.host}/private/chart")
    assert isinstance(nomatch.error, ChartNoMatchingVersionError)
    assert ">=9.0.0" in str(nomatch.error)

    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path, basic_registry.host, USER, PASSWORD)))
    (with_creds,) = discover_charts([ChartWatch(f"oci://{basic_registry.host}/private/chart")])
    assert with_creds.versions == ["1.0.0"]


def test_tls_error_and_insecure_skip_tls_verify(tmp_path: Path) -> None:
    from tests.discovery.registry_server import self_signed

    cert, key, _ = self_signed(tmp_path / "tls")
    with serve_charts({"/repo/index.yaml": make_index(CHARTS)}, tls=(cert, key)) as server:
        refused, accepted = discover_charts(
            [
                ChartWatch(f"{server.url}/repo", "redis"),
                ChartWatch(f"{server.url}/repo/", "redis", insecure_skip_tls_verify=True),
            ]
        )
    assert isinstance(refused.error, ChartRepositoryUnreachableError)
    assert "insecureSkipTLSVerify" in str(refused.error)
    assert accepted.error is None
    assert accepted.versions == ["17.1.0", "17.0.0"]


def test_oci_charts_packaged_and_pushed_by_helm(plain_registry: Seeded, tmp_path: Path) -> None:
    """Charts made and pushed by the Helm SDK itself (what `helm package` + `helm push` do) are discovered."""
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk is a [dev] dependency")
    chart_dir = tmp_path / "podinfo"
    (chart_dir / "templates").mkdir(parents=True)
    (chart_dir / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    for version in ("0.9.0", "1.0.0", "1.1.0", "2.0.0"):
        (chart_dir / "Chart.yaml").write_text(f"apiVersion: v2\nname: podinfo\nversion: {version}\n")
        archive = helm.package(chart_dir, destination=tmp_path / "dist")
        helm.push(archive, f"oci://{plain_registry.host}/helm", plain_http=True)
    result = one(ChartWatch(f"oci://{plain_registry.host}/helm/podinfo", semver_constraint="^1.0.0"))
    assert result.error is None
    assert result.versions == ["1.1.0", "1.0.0"]
    chart = result.charts[0].to_freight_chart()
    assert (chart.repo_url, chart.name, chart.version) == (
        f"oci://{plain_registry.host}/helm/podinfo",
        "",
        "1.1.0",
    )
