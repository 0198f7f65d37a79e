"""What oci-download and oci-push share: image references, the registry session, and error mapping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kargo_actions.errors import RetryableError
from kargo_actions.oci import manifests
from kargo_actions.oci.errors import RegistryError
from kargo_actions.oci.references import split_reference
from kargo_actions.oci.session import RegistrySession
from kargo_actions.promotion.step_api import StepContext, StepError, TerminalStepError
from kargo_actions.struct import struct

# The pattern Kargo's schemas give imageRef / srcRef (destRef allows a tag only).
IMAGE_REF_PATTERN = r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[@:][a-zA-Z0-9._:-]+$"
TAGGED_REF_PATTERN = r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[:][a-zA-Z0-9._-]+$"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


# A step's reference, unlike a Freight's image (discovery/assemble.py): oci:// allowed, one of tag or digest.
@struct
class ImageRef:
    """`[oci://]registry/repository:tag` or `...@sha256:...` split into repository and reference."""

    text: str
    repository: str
    reference: str  # a tag or a digest

    @property
    def is_digest(self) -> bool:
        return ":" in self.reference

    @classmethod
    def parse(cls, text: str, field_name: str) -> ImageRef:
        rest = text.removeprefix("oci://")
        if "@" in rest:
            # All before `@` is the repository: Kargo's pattern allows no tag beside a digest (host:5000@...).
            repository, _, reference = rest.partition("@")
            if not _DIGEST.match(reference):
                raise TerminalStepError(
                    f"{field_name}: {reference!r} in {text!r} is not a digest (sha256:...)"
                )
        else:
            parts = split_reference(rest)
            if parts.tag is None:
                raise TerminalStepError(f"{field_name}: {text!r} has no tag or digest")
            repository, reference = parts.name, parts.tag
        if not repository or not reference:
            raise TerminalStepError(f"{field_name}: {text!r} is not a registry/repository:tag reference")
        return cls(text=text, repository=repository, reference=reference)

    def same_repository(self, other: ImageRef) -> bool:
        return self.repository.lower() == other.repository.lower()


@contextmanager
def registry_session(ctx: StepContext) -> Iterator[RegistrySession]:
    """A registry session with the step's environment (credentials from docker config, insecure hosts)."""
    try:
        session = RegistrySession(env=ctx.env)
    except RegistryError as err:
        raise TerminalStepError(str(err)) from err
    with session:
        yield session


def step_error(err: RegistryError, what: str) -> StepError | TerminalStepError:
    """Registry trouble as a step error: retryable (network, 429, 5xx) or terminal (auth, not found)."""
    message = f"{what}: {err}"
    return StepError(message) if isinstance(err, RetryableError) else TerminalStepError(message)


def json_object(body: bytes, ref: str) -> dict[str, Any]:
    """A manifest's JSON object; anything else is a terminal error naming the reference."""
    try:
        return manifests.json_object(body)
    except manifests.NotAnObjectError as err:
        raise TerminalStepError(f"the manifest of {ref} {err}") from err
