"""monorepo: each application's Warehouse sees only commits under its folder, so a portal change moves
the portal pipeline and nothing of guestbook's."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

PORTAL_BASE = "portal/base/deploy.yaml"


def test_monorepo(example: Callable[[str], Example]) -> None:
    ex = example("monorepo")
    first = ex.head()
    created = ex.discover()
    assert sorted(ex.freight(f)["origin"]["name"] for f in created) == ["guestbook", "portal"]
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "portal-prod", "--warehouse", "portal")
    guestbook = ex.current("guestbook-test")
    assert ex.remote_log("stage/guestbook-test") == [f"render guestbook test at {first}"]
    assert "namespace: portal-prod" in ex.remote_file("stage/portal-prod", "manifests.yaml")
    assert "stage/guestbook-prod" not in ex.remote_branches()

    base = ex.remote_file("main", PORTAL_BASE).replace("replicas: 1", "replicas: 2")
    second = ex.commit({PORTAL_BASE: base}, "portal: two replicas")
    (portal,) = ex.discover()
    assert ex.freight(portal)["origin"]["name"] == "portal"
    assert ex.freight(portal)["commits"][0]["id"] == second
    ex.ok("promote", "--auto")
    assert ex.current("portal-test") == [portal]
    assert "replicas: 2" in ex.remote_file("stage/portal-test", "manifests.yaml")
    assert "replicas: 1" in ex.remote_file("stage/portal-prod", "manifests.yaml")
    assert ex.current("guestbook-test") == guestbook
    assert ex.remote_log("stage/guestbook-test") == [f"render guestbook test at {first}"]
