"""Image selection strategies and the metadata cache against a real docker-registry, counted server-side."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.discovery.image import (
    DiscoveredImage,
    InvalidImageSubscriptionError,
    NoMatchingTagError,
    NoTagsError,
    discover_images,
)
from kargo_actions.errors import ExitCode
from kargo_actions.model.warehouse import ImageSubscription
from kargo_actions.oci.cache import MetadataCache
from kargo_actions.oci.errors import RepositoryNotFoundError
from kargo_actions.oci.session import RegistryOptions, RegistrySession
from tests.discovery.registry_server import ImageSpec, PagingServer, Seeded, build_layout


def sub(repo_url: str, **fields: Any) -> ImageSubscription:
    return ImageSubscription.model_validate({"repoURL": repo_url, **fields})


def run(seeded_host: str, cache_dir: Path, repo: str, **fields: Any) -> list[DiscoveredImage]:
    with RegistrySession(cache=MetadataCache(cache_dir)) as s:
        return list(discover_images(sub(f"{seeded_host}/{repo}", **fields), s).images)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("repo", "fields", "tags"),
    [
        (
            "app/semver",
            {},
            ["2.1.0-rc.1", "2.0.0", "v1.2.0", "1.1.0", "1.0.0"],
        ),  # no constraint: prereleases too
        ("app/semver", {"constraint": "^1.0"}, ["v1.2.0", "1.1.0", "1.0.0"]),
        ("app/semver", {"constraint": "~1.1"}, ["1.1.0"]),
        ("app/semver", {"constraint": ">=1.2", "strictSemvers": False}, ["2.0.0", "v1.2.0", "1.2"]),
        ("app/semver", {"constraint": ">=2.1.0-0"}, ["2.1.0-rc.1"]),
        ("app/semver", {"discoveryLimit": 2}, ["2.1.0-rc.1", "2.0.0"]),
        ("app/semver", {"ignoreTagsRegexes": ["^2"]}, ["v1.2.0", "1.1.0", "1.0.0"]),
        (
            "app/semver",
            {"imageSelectionStrategy": "Lexical"},
            ["v1.2.0", "latest", "abc1234", "2.1.0-rc.1", "2.0.0", "1.2", "1.1.0", "1.0.0"],
        ),
        (
            "app/semver",
            {
                "imageSelectionStrategy": "Lexical",
                "allowTagsRegexes": [r"^1\."],
                "ignoreTagsRegexes": [r"^1\.2"],
            },
            ["1.1.0", "1.0.0"],
        ),
        ("app/semver", {"imageSelectionStrategy": "Digest", "constraint": "latest"}, ["latest"]),
        ("app/builds", {"imageSelectionStrategy": "NewestBuild"}, ["b", "c", "a", "d"]),
        ("app/builds", {"imageSelectionStrategy": "NewestBuild", "discoveryLimit": 1}, ["b"]),
        ("app/multi", {"imageSelectionStrategy": "NewestBuild"}, ["1.2.0", "1.1.0", "1.0.0"]),
        ("app/multi", {"platform": "linux/arm64"}, ["1.2.0", "1.0.0"]),
        ("app/multi", {"platform": "linux/amd64"}, ["1.2.0", "1.1.0", "1.0.0"]),
        ("app/single", {"platform": "linux/arm64"}, ["1.0.0"]),
    ],
)
def test_strategies(
    plain_registry: Seeded, tmp_path: Path, repo: str, fields: dict[str, Any], tags: list[str]
) -> None:
    images = run(plain_registry.host, tmp_path, repo, **fields)
    assert [i.tag for i in images] == tags
    for image in images:
        assert image.repo_url == f"{plain_registry.host}/{repo}"
        assert image.digest == plain_registry.digests[f"{repo}:{image.tag}"]


def test_newest_build_dates_follow_kargo_order(plain_registry: Seeded, tmp_path: Path) -> None:
    """Manifest annotation, then label-schema build-date, then the config's `created`; none -> no date."""
    images = run(plain_registry.host, tmp_path, "app/builds", imageSelectionStrategy="NewestBuild")
    assert {i.tag: i.created for i in images} == {
        "b": day("2024-06-01"),  # org.opencontainers.image.created annotation beats config created
        "c": day("2024-05-01"),  # org.label-schema.build-date label beats config created
        "a": day("2024-03-01"),  # config created
        "d": None,
    }
    assert images[0].annotation("org.opencontainers.image.created") == "2024-06-01T00:00:00Z"


def test_index_dates_own_annotation_then_newest_child(plain_registry: Seeded, tmp_path: Path) -> None:
    every = run(plain_registry.host, tmp_path / "a", "app/multi", imageSelectionStrategy="NewestBuild")
    amd64 = run(
        plain_registry.host,
        tmp_path / "b",
        "app/multi",
        imageSelectionStrategy="NewestBuild",
        platform="linux/amd64",
    )
    assert {i.tag: i.created for i in every} == {
        "1.2.0": day("2024-09-09"),  # the index's own annotation
        "1.1.0": day("2024-07-01"),
        "1.0.0": day("2024-04-02"),  # newest child: arm64
    }
    # As Kargo: every platform's image dates the index, not only the one matching `platform`.
    assert {i.tag: i.created for i in amd64}["1.0.0"] == day("2024-04-02")


def test_platform_with_no_match_names_the_platform(plain_registry: Seeded, tmp_path: Path) -> None:
    with pytest.raises(NoMatchingTagError, match="none has an image for platform linux/amd64") as err:
        run(plain_registry.host, tmp_path, "app/single", platform="linux/amd64")
    assert err.value.repo_url == f"{plain_registry.host}/app/single"


def test_no_tag_matching_the_constraint(plain_registry: Seeded, tmp_path: Path) -> None:
    with pytest.raises(NoMatchingTagError) as err:
        run(plain_registry.host, tmp_path, "app/semver", constraint="^9")
    text = str(err.value)
    assert text.startswith(f"image {plain_registry.host}/app/semver: none of 8 tags passes constraint '^9'")
    assert err.value.exit_code == ExitCode.FAILED


def test_digest_strategy_with_a_missing_tag(plain_registry: Seeded, tmp_path: Path) -> None:
    with pytest.raises(NoMatchingTagError, match=r"tag 'nightly' .*does not exist"):
        run(
            plain_registry.host, tmp_path, "app/semver", imageSelectionStrategy="Digest", constraint="nightly"
        )


def test_missing_repository(plain_registry: Seeded, tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFoundError, match="not found"):
        run(plain_registry.host, tmp_path, "app/nothing-here")


def test_repository_with_zero_tags(tmp_path: Path, paging_server: Callable[..., PagingServer]) -> None:
    server = paging_server([], mode="all")
    with pytest.raises(NoTagsError, match=rf"image {server.host}/app: the repository has no tags"):
        run(server.host, tmp_path, "app")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"allow_tags_regexes": ["("]}, "allowTagsRegexes[0] '(' is not a regular expression"),
        ({"platform": "linux"}, "platform 'linux' is not os/arch"),
        ({"image_selection_strategy": "Digest", "constraint": ""}, "Digest needs the mutable tag"),
        ({"constraint": "not a range"}, "is not a semver range"),
        ({"discovery_limit": 0}, "discoveryLimit 0 is outside 1-100"),
    ],
)
def test_invalid_subscription_is_refused_before_any_request(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    # model_construct skips the model's own checks: discovery must not trust its caller blindly.
    bad = ImageSubscription.model_construct(
        **{**ImageSubscription(repo_url="127.0.0.1:1/app").__dict__, **fields}
    )
    with (
        RegistrySession(cache=MetadataCache(tmp_path)) as s,
        pytest.raises(InvalidImageSubscriptionError) as err,
    ):
        discover_images(bad, s)
    assert message in str(err.value)
    assert err.value.exit_code == ExitCode.INVALID


# -- caching: reruns are HEADs only ----------------------------------------------------------------

CASES = [
    ("app/semver", {}),
    ("app/semver", {"imageSelectionStrategy": "Lexical"}),
    ("app/builds", {"imageSelectionStrategy": "NewestBuild"}),
    ("app/multi", {"imageSelectionStrategy": "NewestBuild", "platform": "linux/arm64"}),
    ("app/single", {"platform": "linux/arm64"}),
    ("app/semver", {"imageSelectionStrategy": "Digest", "constraint": "latest"}),
]


@pytest.mark.parametrize(("repo", "fields"), CASES)
def test_rerun_makes_no_manifest_or_blob_gets(
    plain_registry: Seeded, tmp_path: Path, repo: str, fields: dict[str, Any]
) -> None:
    reg = plain_registry.registry
    mark = reg.mark()
    cold = run(plain_registry.host, tmp_path, repo, **fields)
    cold_counts = reg.count(mark)
    mark = reg.mark()
    warm = run(plain_registry.host, tmp_path, repo, **fields)
    warm_counts = reg.count(mark)
    assert warm == cold
    assert cold_counts["manifest"] >= 1
    assert warm_counts["manifest"] == 0
    assert warm_counts["blob"] == 0
    assert warm_counts["head"] <= cold_counts["head"]
    assert warm_counts["head"] <= max(len(warm), 1) or fields.get("imageSelectionStrategy") in (
        "Lexical",
        "NewestBuild",
    )
    assert set(warm_counts) <= {"tags", "head"}


def test_cold_semver_is_one_head_and_one_get_per_discovered_tag(
    plain_registry: Seeded, tmp_path: Path
) -> None:
    reg = plain_registry.registry
    mark = reg.mark()
    images = run(plain_registry.host, tmp_path, "app/semver", discoveryLimit=3)
    counts = reg.count(mark)
    assert len(images) == 3
    assert dict(counts) == {"tags": 1, "head": 3, "manifest": 3}


def test_cache_key_layout_is_by_digest(plain_registry: Seeded, tmp_path: Path) -> None:
    images = run(plain_registry.host, tmp_path, "app/builds", imageSelectionStrategy="NewestBuild")
    for image in images:
        path = tmp_path / "images" / "v1" / "manifests" / "sha256" / f"{image.digest.split(':')[1]}.json"
        assert json.loads(path.read_text())["digest"] == image.digest
    assert list((tmp_path / "images" / "v1" / "configs" / "sha256").glob("*.json"))


def test_corrupt_cache_entry_is_a_miss(plain_registry: Seeded, tmp_path: Path) -> None:
    first = run(plain_registry.host, tmp_path, "app/semver", discoveryLimit=1)
    entry = tmp_path / "images" / "v1" / "manifests" / "sha256" / f"{first[0].digest.split(':')[1]}.json"
    entry.write_text('{"digest": "sha')  # a run killed mid-write by something other than us
    reg = plain_registry.registry
    mark = reg.mark()
    again = run(plain_registry.host, tmp_path, "app/semver", discoveryLimit=1)
    assert again == first
    assert reg.count(mark)["manifest"] == 1
    assert json.loads(entry.read_text())["digest"] == first[0].digest


def test_concurrent_runs_share_one_cache(plain_registry: Seeded, tmp_path: Path) -> None:
    results: list[list[DiscoveredImage]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(
                run(plain_registry.host, tmp_path, "app/multi", imageSelectionStrategy="NewestBuild")
            )
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == results[0] for r in results)
    assert not list(tmp_path.rglob(".tmp-*"))  # no temp file left behind


def _moving_repo(seeded: Seeded, tmp_path: Path) -> tuple[str, str, str]:
    """A fresh repository whose tag `stable` points at image one; returns its name and both digests."""
    name = f"moving/{uuid.uuid4().hex[:8]}"
    reg = seeded.registry
    one = build_layout(tmp_path / "one", "1.0.0", [ImageSpec(salt=name + "1")])
    reg.push(tmp_path / "one", "1.0.0", name)
    two = build_layout(tmp_path / "two", "2.0.0", [ImageSpec(salt=name + "2")])
    reg.push(tmp_path / "two", "2.0.0", name)
    reg.retag(name, "1.0.0", ["stable"])
    return name, one, two


def test_cache_by_tag_skips_heads_and_trusts_the_tag(plain_registry: Seeded, tmp_path: Path) -> None:
    reg = plain_registry.registry
    name, one, two = _moving_repo(plain_registry, tmp_path)
    fields = {"imageSelectionStrategy": "Lexical", "allowTagsRegexes": ["^stable$"], "cacheByTag": True}
    assert [i.digest for i in run(reg.host, tmp_path / "c", name, **fields)] == [one]
    reg.retag(name, "2.0.0", ["stable"])
    mark = reg.mark()
    again = run(reg.host, tmp_path / "c", name, **fields)
    assert [i.digest for i in again] == [one]  # Kargo's cacheByTag: a moved tag is not seen
    assert dict(reg.count(mark)) == {"tags": 1}
    without = run(
        reg.host, tmp_path / "c", name, imageSelectionStrategy="Lexical", allowTagsRegexes=["^stable$"]
    )
    assert [i.digest for i in without] == [two]


def test_digest_strategy_follows_a_moved_tag_even_with_cache_by_tag(
    plain_registry: Seeded, tmp_path: Path
) -> None:
    reg = plain_registry.registry
    name, one, two = _moving_repo(plain_registry, tmp_path)
    fields = {"imageSelectionStrategy": "Digest", "constraint": "stable", "cacheByTag": True}
    assert run(reg.host, tmp_path / "c", name, **fields)[0].digest == one
    reg.retag(name, "2.0.0", ["stable"])
    mark = reg.mark()
    assert run(reg.host, tmp_path / "c", name, **fields)[0].digest == two
    assert reg.count(mark)["head"] == 1


def test_token_registry_discovery_end_to_end(token_registry: Seeded, tmp_path: Path) -> None:
    from tests.discovery.registry_server import PASSWORD, USER, docker_config

    reg = token_registry.registry
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path, reg.host, USER, PASSWORD))}
    with RegistrySession(RegistryOptions(), cache=MetadataCache(tmp_path / "c"), env=env) as s:
        result = discover_images(sub(f"{reg.host}/private/app"), s)
    assert [(i.tag, i.digest) for i in result.images] == [
        ("1.1.0", token_registry.digests["private/app:1.1.0"]),
        ("1.0.0", token_registry.digests["private/app:1.0.0"]),
    ]
    assert result.tags_listed == 2


def test_docker_schema2_manifest_and_list(plain_registry: Seeded, tmp_path: Path) -> None:
    """Images pushed with Docker's own media types (manifest v2, manifest list) are read the same way."""
    from kargo_actions.oci.manifests import DOCKER_LIST, DOCKER_MANIFEST

    images = run(
        plain_registry.host,
        tmp_path,
        "app/docker",
        imageSelectionStrategy="NewestBuild",
        platform="linux/arm64",
    )
    assert [(i.tag, i.created) for i in images] == [("2.0.0", day("2024-11-01"))]
    cache = MetadataCache(tmp_path)
    with RegistrySession(cache=cache) as s:
        client = s.repository(f"{plain_registry.host}/app/docker")
        assert client.head_manifest("1.0.0").media_type == DOCKER_MANIFEST
        assert client.head_manifest("2.0.0").media_type == DOCKER_LIST
    every = run(plain_registry.host, tmp_path, "app/docker", imageSelectionStrategy="NewestBuild")
    assert [(i.tag, i.created) for i in every] == [("2.0.0", day("2024-11-01")), ("1.0.0", day("2024-10-01"))]


def test_head_without_digest_header_falls_back_to_get(
    tmp_path: Path, paging_server: Callable[..., PagingServer]
) -> None:
    server = paging_server(["1.0.0"], mode="all")
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": "sha256:" + "0" * 64},
            "layers": [],
        }
    ).encode()
    server.manifests["1.0.0"] = (body, "application/vnd.oci.image.manifest.v1+json")
    import hashlib

    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    server.manifests[digest] = server.manifests["1.0.0"]
    images = run(server.host, tmp_path, "app")
    assert [(i.tag, i.digest) for i in images] == [("1.0.0", digest)]
    assert [h.split(" ")[0] for h in server.hits if "/manifests/" in h] == ["HEAD", "GET"]


def test_discovered_image_becomes_a_freight_image(plain_registry: Seeded, tmp_path: Path) -> None:
    import hashlib

    from kargo_actions.freight.identity import freight_id
    from kargo_actions.model.freight import FreightOrigin

    newest = run(plain_registry.host, tmp_path, "app/builds", imageSelectionStrategy="NewestBuild")[0]
    image = newest.to_freight_image()
    assert image.wire() == {
        "repoURL": f"{plain_registry.host}/app/builds",
        "tag": "b",
        "digest": plain_registry.digests["app/builds:b"],
        "annotations": {"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
    }
    expected = hashlib.sha1(f"Warehouse/w:{image.repo_url}:b@{image.digest}".encode()).hexdigest()  # noqa: S324
    assert freight_id(FreightOrigin(name="w"), images=[image]) == expected


def test_one_failing_subscription_does_not_stop_the_others(plain_registry: Seeded, tmp_path: Path) -> None:
    from kargo_actions.discovery.image import discover_all_images

    host = plain_registry.host
    subs = [
        sub(f"{host}/app/semver", constraint="^9"),
        sub(f"{host}/missing/repo"),
        sub(f"{host}/app/semver"),
    ]
    with RegistrySession(cache=MetadataCache(tmp_path)) as s:
        outcomes = discover_all_images(subs, s)
    assert [type(o.error).__name__ if o.error else None for o in outcomes] == [
        "NoMatchingTagError",
        "RepositoryNotFoundError",
        None,
    ]
    assert outcomes[1].error is not None
    assert str(outcomes[1].error).startswith(f"image {host}/missing/repo: ")
    assert outcomes[2].result is not None
    assert outcomes[2].result.newest.tag == "2.1.0-rc.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01T00:00:00Z", datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T02:00:00+02:00", datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01t00:00:00.123456789z", datetime(2024, 6, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2024-06-01", None),  # Go's RFC 3339 layout needs time and zone
        ("2024-06-01T00:00:00", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_build_dates_are_read_as_go_reads_rfc3339(text: str | None, expected: datetime | None) -> None:
    from kargo_actions.discovery.image import parse_time

    assert parse_time(text) == expected
