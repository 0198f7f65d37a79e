"""rendered-configs: each Stage's branch holds the chart rendered as plain YAML, one file per resource;
a new image is a one-line diff of the Deployment."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.harness import Example
from tests.support.git_http_server import git

IMAGE = "ghcr.io/example/guestbook"


def test_rendered_configs(example: Callable[[str], Example]) -> None:
    ex = example("rendered-configs")
    ex.push_image(IMAGE, "1.0.0")
    ex.discover()
    ex.ok("promote", "--auto")
    ex.ok("promote", "--stage", "prod", "--warehouse", "guestbook")
    ex.push_image(IMAGE, "1.1.0")
    ex.discover()
    ex.ok("promote", "--auto")

    for stage, tag, replicas in (("test", "1.1.0", 1), ("prod", "1.0.0", 3)):
        files = git(ex.bare(), "ls-tree", "--name-only", f"stage/{stage}").split()
        assert files == [
            f"apps-deployment-guestbook-{stage}-guestbook.yaml",
            f"service-guestbook-{stage}-guestbook.yaml",
        ]
        text = ex.remote_file(f"stage/{stage}", files[0])
        assert f'image: "{ex.local(IMAGE)}:{tag}"' in text
        assert f"replicas: {replicas}" in text
        assert f"namespace: guestbook-{stage}" in text
        assert "{{" not in text

    diff = git(ex.bare(), "diff", "--unified=0", "stage/test~1", "stage/test")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    image = f'        image: "{ex.local(IMAGE)}'
    assert changed == [f'-{image}:1.0.0"', f'+{image}:1.1.0"']
