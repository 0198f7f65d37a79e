"""freight assemble: artifacts matched one for one to a Warehouse's subscriptions."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from kargo_actions.discovery.assemble import (
    Artifacts,
    assemble_freight,
    check_discovered,
    parse_artifacts_json,
    parse_chart_ref,
    parse_commit_ref,
    parse_image_ref,
)
from kargo_actions.errors import InvalidInputError
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, DiscoveryResult
from kargo_actions.manifests import load_project
from kargo_actions.model.freight import Chart, Freight, GitCommit, Image
from kargo_actions.model.warehouse import Warehouse

DIGEST = "sha256:" + "ab" * 32
SHA = "c0ffee" + "0" * 34

WAREHOUSES = textwrap.dedent(
    """\
    apiVersion: kargo.akuity.io/v1alpha1
    kind: Warehouse
    metadata: {name: mixed, namespace: shop}
    spec:
      subscriptions:
      - image: {repoURL: registry.example.com/shop/web}
      - git: {repoURL: https://git.example.com/shop/config.git}
      - chart: {repoURL: https://charts.example.com, name: redis}
    ---
    apiVersion: kargo.akuity.io/v1alpha1
    kind: Warehouse
    metadata: {name: twins, namespace: shop}
    spec:
      subscriptions:
      - name: api
        image: {repoURL: registry.example.com/shop/api}
      - name: worker
        image: {repoURL: registry.example.com/shop/worker}
    """
)


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Warehouse]:
    config = tmp_path_factory.mktemp("kargo")
    (config / "warehouses.yaml").write_text(WAREHOUSES)
    return dict(load_project(config).warehouses)


def test_full_freight_matches_kargo_id(warehouses: dict[str, Warehouse]) -> None:
    artifacts = Artifacts(
        images=(Image(repo_url="registry.example.com/shop/web", tag="1.2.0", digest=DIGEST),),
        commits=(GitCommit(repo_url="https://git.example.com/shop/config", id=SHA),),
        charts=(Chart(repo_url="https://charts.example.com", name="redis", version="18.1.0"),),
    )
    freight = assemble_freight(warehouses["mixed"], artifacts, alias="brave-otter")
    material = "Warehouse/mixed:" + "|".join(
        sorted(
            [
                f"https://git.example.com/shop/config:{SHA}",
                f"registry.example.com/shop/web:1.2.0@{DIGEST}",
                "https:/charts.example.com/redis:18.1.0",
            ]
        )
    )
    assert freight.name == hashlib.sha1(material.encode()).hexdigest()  # noqa: S324
    assert freight.alias == "brave-otter"
    assert freight.origin.name == "mixed"
    assert freight.metadata.namespace == "shop"
    wire = freight.wire()
    assert wire["apiVersion"] == "kargo.akuity.io/v1alpha1"
    assert wire["kind"] == "Freight"
    assert wire["images"] == [{"repoURL": "registry.example.com/shop/web", "tag": "1.2.0", "digest": DIGEST}]


def test_named_subscriptions_need_and_record_the_name(warehouses: dict[str, Warehouse]) -> None:
    api = Image(repo_url="registry.example.com/shop/api", tag="1", digest=DIGEST)
    worker = Image(repo_url="registry.example.com/shop/worker", tag="2", digest=DIGEST)
    freight = assemble_freight(warehouses["twins"], Artifacts(images=(worker, api)))
    assert sorted(i.subscription_name or "" for i in freight.images) == ["api", "worker"]
    material = f"Warehouse/twins:registry.example.com/shop/api:1@{DIGEST}:api|registry.example.com/shop/worker:2@{DIGEST}:worker"
    assert freight.name == hashlib.sha1(material.encode()).hexdigest()  # noqa: S324


IMAGE = Image(repo_url="registry.example.com/shop/web", tag="1.2.0", digest=DIGEST)
COMMIT = GitCommit(repo_url="https://git.example.com/shop/config", id=SHA)
CHART = Chart(repo_url="https://charts.example.com", name="redis", version="18.1.0")

BAD: list[tuple[str, str, Artifacts, list[str]]] = [
    (
        "a subscription left without an artifact",
        "mixed",
        Artifacts(images=(IMAGE,), commits=(COMMIT,)),
        ["warehouse mixed: no artifact given for subscriptions[2] chart https://charts.example.com"],
    ),
    (
        "two artifacts for one subscription",
        "mixed",
        Artifacts(
            images=(IMAGE, IMAGE.model_copy(update={"tag": "1.3.0"})), commits=(COMMIT,), charts=(CHART,)
        ),
        ["images[1] registry.example.com/shop/web: is a second artifact for subscriptions[0]"],
    ),
    (
        "an artifact no subscription watches, with the watched URLs as a hint",
        "mixed",
        Artifacts(
            images=(IMAGE, Image(repo_url="registry.example.com/shop/webb", tag="1", digest=DIGEST)),
            commits=(COMMIT,),
            charts=(CHART,),
        ),
        [
            "images[1] registry.example.com/shop/webb: matches no subscription of Warehouse 'mixed'"
            " (its image subscriptions watch: registry.example.com/shop/web)"
        ],
    ),
    (
        "a chart with another name",
        "mixed",
        Artifacts(images=(IMAGE,), commits=(COMMIT,), charts=(CHART.model_copy(update={"name": "nginx"}),)),
        ["charts[0] https://charts.example.com nginx: matches no subscription"],
    ),
    (
        "an image without a digest",
        "mixed",
        Artifacts(images=(IMAGE.model_copy(update={"digest": ""}),), commits=(COMMIT,), charts=(CHART,)),
        ["images[0] registry.example.com/shop/web: has no digest (give REPO:TAG@sha256:...)"],
    ),
    (
        "a short commit hash",
        "mixed",
        Artifacts(images=(IMAGE,), commits=(COMMIT.model_copy(update={"id": "c0ffee"}),), charts=(CHART,)),
        ["commits[0] https://git.example.com/shop/config: id 'c0ffee' is not a full commit hash"],
    ),
    (
        "a subscriptionName the Warehouse does not have",
        "twins",
        Artifacts(
            images=(
                Image(
                    repo_url="registry.example.com/shop/api", tag="1", digest=DIGEST, subscription_name="apl"
                ),
                Image(repo_url="registry.example.com/shop/worker", tag="1", digest=DIGEST),
            )
        ),
        ["images[0] registry.example.com/shop/api: matches no subscription of Warehouse 'twins'"],
    ),
]


@pytest.mark.parametrize(("label", "warehouse", "artifacts", "expected"), BAD, ids=[b[0] for b in BAD])
def test_mismatches_are_all_reported(
    warehouses: dict[str, Warehouse], label: str, warehouse: str, artifacts: Artifacts, expected: list[str]
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        assemble_freight(warehouses[warehouse], artifacts)
    lines = caught.value.lines()
    for fragment in expected:
        assert any(fragment in line for line in lines), (label, lines)


def test_every_problem_is_reported_at_once(warehouses: dict[str, Warehouse]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        assemble_freight(warehouses["mixed"], Artifacts(images=(IMAGE.model_copy(update={"digest": ""}),)))
    assert len(caught.value.lines()) == 3  # no digest, and the git and chart subscriptions left empty


def test_bad_alias_is_refused(warehouses: dict[str, Warehouse]) -> None:
    with pytest.raises(InvalidInputError, match="lowercase"):
        assemble_freight(warehouses["mixed"], Artifacts((IMAGE,), (COMMIT,), (CHART,)), alias="Not_Valid")


@pytest.mark.parametrize(
    ("ref", "repo", "tag", "digest"),
    [
        (f"ghcr.io/org/app:1.2.3@{DIGEST}", "ghcr.io/org/app", "1.2.3", DIGEST),
        (f"localhost:5000/app:v1@{DIGEST}", "localhost:5000/app", "v1", DIGEST),
        (f"localhost:5000/app@{DIGEST}", "localhost:5000/app", "", DIGEST),
    ],
)
def test_parse_image_ref(ref: str, repo: str, tag: str, digest: str) -> None:
    image = parse_image_ref(ref)
    assert (image.repo_url, image.tag, image.digest) == (repo, tag, digest)


def test_parse_image_ref_needs_a_digest() -> None:
    with pytest.raises(InvalidInputError, match=r"--image: 'ghcr.io/org/app:1.2.3' is not REPO:TAG@DIGEST"):
        parse_image_ref("ghcr.io/org/app:1.2.3")


def test_parse_commit_and_chart_refs() -> None:
    commit = parse_commit_ref(f"repoURL=https://git.example.com/r.git,id={SHA},tag=v1")
    assert (commit.repo_url, commit.id, commit.tag) == ("https://git.example.com/r.git", SHA, "v1")
    chart = parse_chart_ref("repoURL=oci://ghcr.io/org/chart,version=1.0.0")
    assert (chart.repo_url, chart.name, chart.version) == ("oci://ghcr.io/org/chart", "", "1.0.0")
    with pytest.raises(InvalidInputError, match=r"--commit: 'sha=1' is not one of repoURL=\.\.\."):
        parse_commit_ref("sha=1")
    with pytest.raises(InvalidInputError) as caught:
        parse_commit_ref("repoURL=,id=abc")
    assert str(caught.value) == "--commit: 'repoURL=,id=abc': repoURL: must not be empty"
    with pytest.raises(InvalidInputError) as caught:
        parse_chart_ref("repoURL=,version=1")
    assert str(caught.value) == "--chart: 'repoURL=,version=1': repoURL: must not be empty"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "in.json:1:2: not valid JSON: Expecting property name enclosed in double quotes"),
        ("[]", "in.json: expected a JSON object with images, commits, charts; got list"),
        ('{"image": []}', "in.json: image: unknown key (use images, commits and charts)"),
        ('{"images": {}}', "in.json: images: expected a list, found a mapping"),
        ('{"images": [{"tag": "1"}]}', "in.json: images.0.repoURL: required field is missing"),
        (
            '{"charts": [{"repoURL": "x", "versoin": "1"}]}',
            "in.json: charts.0.versoin: unknown field (did you mean 'version'?)",
        ),
    ],
)
def test_parse_artifacts_json_errors(text: str, expected: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_artifacts_json(text, "in.json")
    assert expected in caught.value.lines()


def test_parse_artifacts_json_reads_kargo_shape(tmp_path: Path) -> None:
    artifacts = parse_artifacts_json(
        '{"images": [{"repoURL": "r/a", "tag": "1", "digest": "sha256:1"}],'
        ' "commits": [{"repoURL": "https://g/r", "id": "abc", "branch": "main"}],'
        ' "charts": [{"repoURL": "oci://r/c", "version": "2"}]}',
        "x",
    )
    assert artifacts.images[0].tag == "1"
    assert artifacts.commits[0].branch == "main"
    assert artifacts.charts[0].version == "2"
    assert len(artifacts) == 3


# ---- only discovered revisions (check_discovered) ----

OLD_SHA = "01d" + "0" * 37
DISCOVERED = DiscoveredArtifactsRecord(
    warehouse="mixed",
    discovered_at="2024-01-01T00:00:00Z",
    results=[
        DiscoveryResult(
            kind="image",
            repo_url="registry.example.com/shop/web",
            images=[
                Image(repo_url="registry.example.com/shop/web", tag="1.2.0", digest=DIGEST),
                Image(repo_url="registry.example.com/shop/web", tag="1.1.0", digest="sha256:" + "cd" * 32),
            ],
        ),
        DiscoveryResult(
            kind="git",
            repo_url="https://git.example.com/shop/config.git",
            commits=[GitCommit(repo_url="https://git.example.com/shop/config.git", id=SHA, branch="main")],
        ),
        DiscoveryResult(
            kind="chart",
            repo_url="https://charts.example.com",
            charts=[Chart(repo_url="https://charts.example.com", name="redis", version="18.1.0")],
        ),
    ],
)


def _mixed(warehouses: dict[str, Warehouse], tag: str, digest: str, sha: str, version: str) -> Freight:
    artifacts = Artifacts(
        images=(Image(repo_url="registry.example.com/shop/web", tag=tag, digest=digest),),
        commits=(GitCommit(repo_url="https://git.example.com/shop/config", id=sha),),
        charts=(Chart(repo_url="https://charts.example.com", name="redis", version=version),),
    )
    return assemble_freight(warehouses["mixed"], artifacts)


@pytest.mark.parametrize(
    ("tag", "digest", "sha", "version", "refused"),
    [
        ("1.2.0", DIGEST, SHA, "18.1.0", []),
        ("1.1.0", "sha256:" + "cd" * 32, SHA, "18.1.0", []),  # an older discovered revision is fine
        ("1.1.0", DIGEST, SHA, "18.1.0", ["images[0]"]),  # a tag with another image's digest is not
        ("1.2.0", DIGEST, OLD_SHA, "17.0.0", ["commits[0]", "charts[0]"]),
    ],
)
def test_check_discovered(
    warehouses: dict[str, Warehouse], tag: str, digest: str, sha: str, version: str, refused: list[str]
) -> None:
    freight = _mixed(warehouses, tag, digest, sha, version)
    if not refused:
        check_discovered(freight, DISCOVERED)
        return
    with pytest.raises(InvalidInputError) as err:
        check_discovered(freight, DISCOVERED)
    assert [p.path.split(" ")[0] for p in err.value.problems] == refused


def test_check_discovered_names_the_candidates(warehouses: dict[str, Warehouse]) -> None:
    freight = _mixed(warehouses, "1.2.0", DIGEST, SHA, "17.0.0")
    with pytest.raises(InvalidInputError) as err:
        check_discovered(freight, DISCOVERED)
    (problem,) = err.value.problems
    assert str(problem) == (
        "charts[0] https://charts.example.com redis 17.0.0: was not discovered for chart "
        "https://charts.example.com (discovered: 18.1.0; run `kargo-actions discover --warehouse mixed`, "
        "or give --allow-undiscovered)"
    )


def test_check_discovered_without_any_discovery(warehouses: dict[str, Warehouse]) -> None:
    freight = _mixed(warehouses, "1.2.0", DIGEST, SHA, "18.1.0")
    with pytest.raises(InvalidInputError, match="has no discovered artifacts on the ledger"):
        check_discovered(freight, None)
