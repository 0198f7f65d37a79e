"""storage-write-back-to-main: promotions commit builds/ on main, and the Warehouse, watching src/ only,
makes no Freight of those commits (no feedback loop)."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example

BASE = "src/guestbook/base/deploy.yaml"


def test_storage_write_back_to_main(example: Callable[[str], Example]) -> None:
    ex = example("storage-write-back-to-main")
    first = ex.head()
    (freight,) = ex.discover()
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    assert ex.remote_log()[:3] == [
        f"render src/guestbook at {first} into builds/guestbook/{stage}" for stage in ("prod", "uat", "test")
    ]
    for stage in ("test", "uat", "prod"):
        manifests = ex.remote_file("main", f"builds/guestbook/{stage}/manifests.yaml")
        assert f"namespace: guestbook-{stage}" in manifests

    # main moved three times, but only builds/ changed: no new Freight
    assert ex.discover() == []

    # a change of the input is a Freight, rendered on top of the promotions' commits
    base = ex.remote_file("main", BASE).replace("replicas: 1", "replicas: 2")
    second = ex.commit({BASE: base}, "guestbook: two replicas")
    (newer,) = ex.discover()
    assert ex.freight(newer)["commits"][0]["id"] == second
    ex.ok("promote", "--auto")
    assert "replicas: 2" in ex.remote_file("main", "builds/guestbook/test/manifests.yaml")
    assert "replicas: 1" in ex.remote_file("main", "builds/guestbook/prod/manifests.yaml")
    assert ex.current("test") == [newer]
    assert ex.current("prod") == [freight]
    assert ex.discover() == []
