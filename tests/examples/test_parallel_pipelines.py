"""parallel-pipelines: guestbook and portal share a Project and a repository, never a Freight or a Stage."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example


def _tag(ex: Example, app: str, env: str) -> str:
    text = ex.remote_file("main", f"{app}/stages/{env}/kustomization.yaml")
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if "newTag" in line)


def test_parallel_pipelines(example: Callable[[str], Example]) -> None:
    ex = example("parallel-pipelines")
    ex.push_image("ghcr.io/example/guestbook", "1.0.0")
    ex.push_image("ghcr.io/example/portal", "2.0.0")
    guestbook, portal = sorted(ex.discover(), key=lambda name: ex.freight(name)["origin"]["name"])

    # both test Stages promote themselves, each with its own Warehouse's Freight
    out = ex.ok("promote", "--auto", "-q")
    assert "guestbook-prod: skipped" in out
    assert ex.current("guestbook-test") == [guestbook]
    assert ex.current("portal-test") == [portal]
    assert (_tag(ex, "guestbook", "test"), _tag(ex, "portal", "test")) == ("1.0.0", "2.0.0")

    # a new guestbook image moves the guestbook pipeline alone
    ex.push_image("ghcr.io/example/guestbook", "1.1.0")
    [newer] = ex.discover()
    ex.ok("promote", "--auto", "-q")
    ex.ok("promote", "--stage", "guestbook-prod", "--warehouse", "guestbook", "-q")
    assert ex.current("guestbook-prod") == [newer]
    assert _tag(ex, "guestbook", "prod") == "1.1.0"
    assert "newTag" not in ex.remote_file("main", "portal/stages/prod/kustomization.yaml")
    assert ex.current("portal-test") == [portal]

    # the pipelines do not cross: portal's Freight is not for a guestbook Stage
    refused = ex.run("promote", "--stage", "guestbook-prod", "--freight", portal)
    assert refused.code == 3, refused.err
    assert sorted(ex.remote_log()) == [
        "example",
        "guestbook 1.0.0 to test",
        "guestbook 1.1.0 to prod",
        "guestbook 1.1.0 to test",
        "portal 2.0.0 to test",
    ]
