"""freight-assembly: discovery makes no Freight (Manual); a person assembles a compatible image and
configuration commit from what was discovered, and that Freight is promoted."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

IMAGE = "ghcr.io/example/guestbook"


def test_freight_assembly(example: Callable[[str], Example]) -> None:
    ex = example("freight-assembly")
    ex.push_image(IMAGE, "1.0.0")
    digest = ex.push_image(IMAGE, "1.1.0")
    # 1.1.0 needs a setting the configuration gains only now
    deploy = ex.remote_file("main", "base/deploy.yaml").replace(
        "        ports:\n",
        "        env:\n        - name: GUESTBOOK_STORE\n          value: redis\n        ports:\n",
    )
    sha = ex.commit({"base/deploy.yaml": deploy}, "guestbook 1.1 reads GUESTBOOK_STORE")
    assert ex.discover() == []  # freightCreationPolicy: Manual
    found = ex.json("discover")["warehouses"][0]["subscriptions"]
    assert [i["tag"] for i in found[0]["images"]] == ["1.1.0", "1.0.0"]
    assert found[1]["commits"][0]["id"] == sha

    repo_url = ex.local("https://github.com/example/freight-assembly.git")
    image_ref = f"{ex.local(IMAGE)}:1.1.0@{digest}"
    commit_ref = f"repoURL={repo_url},id={sha},branch=main"
    assemble = (
        "freight",
        "assemble",
        "--warehouse",
        "guestbook",
        "--image",
        image_ref,
        "--commit",
        commit_ref,
    )
    # only discovered revisions can be assembled: an image pushed since is refused
    later = ex.push_image(IMAGE, "1.2.0")
    bad = ex.run(*assemble[:4], "--image", f"{ex.local(IMAGE)}:1.2.0@{later}", "--commit", commit_ref)
    assert bad.code == 2, bad.err
    assert "1.2.0@" in bad.err
    assert "was not discovered" in bad.err

    made = ex.json(*assemble, "--alias", "store-ready")
    name = made["metadata"]["name"]
    assert ex.freight("store-ready")["metadata"]["name"] == name

    ex.ok("promote", "--stage", "test", "--freight", "store-ready", "-q")
    ex.ok("promote", "--auto", "-q")  # uat follows by policy
    assert ex.current("test") == ex.current("uat") == [name]
    rendered = ex.remote_file("stage/uat", "manifests.yaml")
    assert f"image: {ex.local(IMAGE)}:1.1.0" in rendered
    assert "GUESTBOOK_STORE" in rendered
    assert ex.remote_log("stage/uat") == [f"uat runs guestbook 1.1.0 with config {sha}"]
