"""oci/references.py: how `name[:tag][@digest]` splits, and the rules its two readers add on top: a
Freight's image (`freight assemble --image`, digest required) and a step's imageRef, srcRef or destRef (a
tag or a digest)."""

from __future__ import annotations

import pytest

from kargo_actions.discovery.assemble import parse_image_ref
from kargo_actions.errors import InvalidInputError
from kargo_actions.oci.references import Reference, split_reference
from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.support.ociutil import ImageRef

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", Reference("nginx", None, None)),
        ("nginx:1.25", Reference("nginx", "1.25", None)),
        ("ghcr.io/org/app:1.2.3", Reference("ghcr.io/org/app", "1.2.3", None)),
        ("localhost:5000/app", Reference("localhost:5000/app", None, None)),  # a port is no tag
        ("localhost:5000/app:v1", Reference("localhost:5000/app", "v1", None)),
        (f"localhost:5000/app@{DIGEST}", Reference("localhost:5000/app", None, DIGEST)),
        (f"ghcr.io/org/app:1.2.3@{DIGEST}", Reference("ghcr.io/org/app", "1.2.3", DIGEST)),
        ("app:", Reference("app", "", None)),
        ("app@", Reference("app", None, "")),
        ("localhost:5000", Reference("localhost", "5000", None)),  # without a slash, docker reads a tag
    ],
)
def test_split_reference(text: str, expected: Reference) -> None:
    assert split_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "repository", "reference"),
    [
        ("127.0.0.1:5000/charts/demo:1.0.0", "127.0.0.1:5000/charts/demo", "1.0.0"),
        ("oci://ghcr.io/org/chart:0.1.0", "ghcr.io/org/chart", "0.1.0"),
        (f"localhost:5000/app@{DIGEST}", "localhost:5000/app", DIGEST),
        (f"localhost:5000@{DIGEST}", "localhost:5000", DIGEST),  # before a digest, no colon is a tag's
    ],
)
def test_a_steps_reference_has_a_tag_or_a_digest(text: str, repository: str, reference: str) -> None:
    ref = ImageRef.parse(text, "imageRef")
    assert (ref.repository, ref.reference, ref.is_digest) == (repository, reference, reference == DIGEST)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost:5000/app", "srcRef: 'localhost:5000/app' has no tag or digest"),
        ("oci://ghcr.io/org/app", "srcRef: 'oci://ghcr.io/org/app' has no tag or digest"),
        ("ghcr.io/app@latest", "srcRef: 'latest' in 'ghcr.io/app@latest' is not a digest (sha256:...)"),
        ("ghcr.io/app:", "srcRef: 'ghcr.io/app:' is not a registry/repository:tag reference"),
        (f"@{DIGEST}", f"srcRef: '@{DIGEST}' is not a registry/repository:tag reference"),
    ],
)
def test_a_steps_bad_reference_is_terminal(text: str, message: str) -> None:
    with pytest.raises(TerminalStepError) as caught:
        ImageRef.parse(text, "srcRef")
    assert str(caught.value) == message


def test_a_freights_image_keeps_its_tag_and_needs_a_digest() -> None:
    image = parse_image_ref(f"localhost:5000/app:v1@{DIGEST}")
    assert (image.repo_url, image.tag, image.digest) == ("localhost:5000/app", "v1", DIGEST)
    for text in ("localhost:5000/app:v1", "localhost:5000/app@", f"@{DIGEST}"):
        with pytest.raises(InvalidInputError, match="is not REPO:TAG@DIGEST"):
            parse_image_ref(text)
