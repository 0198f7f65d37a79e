"""kustomize-set-image: set image tags/digests in a kustomization file, as `kustomize edit set image` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import StrictStr, model_validator
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.support import yamledit
from kargo_actions.struct import struct

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Kargo's (and kustomize's) "keep what the file has" marker for newName, newTag and digest.
PRESERVE = "*"


class ImageUpdate(StepConfig):
    """One image to set: by the subscribed image name, to a tag or a digest, optionally renamed."""

    image: NonEmpty
    """The image as subscribed (the entry's `name` unless `name` is given)."""
    name: StrictStr = ""
    """The entry's name in the kustomization, when it differs from `image`."""
    new_name: StrictStr = ""
    """Replace the image name; `*` keeps the entry's current value (also for tag/digest)."""
    tag: StrictStr = ""
    """The new tag."""
    digest: StrictStr = ""
    """The new digest (exactly one of `tag` and `digest`)."""

    @model_validator(mode="after")
    def _tag_or_digest(self) -> ImageUpdate:
        if self.tag and self.digest:
            raise ValueError("tag and digest are mutually exclusive")
        if not self.tag and not self.digest:
            raise ValueError("one of tag or digest is required")
        return self


class KustomizeSetImageConfig(StepConfig):
    """Kargo's KustomizeSetImageConfig."""

    path: NonEmpty
    """Directory holding `kustomization.yaml`, `kustomization.yml` or `Kustomization` (exactly one)."""
    images: list[ImageUpdate] | None = None
    """Images to set. Omitted: every image of the Freight being promoted."""


@struct
class KustomizeImage:
    """An `images` entry of a kustomization, fields in kustomize's order."""

    name: str
    new_name: str = ""
    new_tag: str = ""
    digest: str = ""

    def ref(self) -> str:
        ref = self.new_name or self.name
        if self.new_tag:
            ref += f":{self.new_tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref

    def entry(self) -> CommentedMap:
        entry = CommentedMap()
        for key, value in (
            ("name", self.name),
            ("newName", self.new_name),
            ("newTag", self.new_tag),
            ("digest", self.digest),
        ):
            if value:
                entry[key] = yamledit.scalar(value)
        return entry

    def keeping(self, current: KustomizeImage) -> KustomizeImage:
        """This image with every `*` field replaced by the current entry's value."""
        return KustomizeImage(
            self.name,
            current.new_name if self.new_name == PRESERVE else self.new_name,
            current.new_tag if self.new_tag == PRESERVE else self.new_tag,
            current.digest if self.digest == PRESERVE else self.digest,
        )


def find_kustomization(directory: Path, shown: str) -> Path:
    if not directory.is_dir():
        raise TerminalStepError(f"path: {shown!r} is not a directory")
    found = [directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file()]
    if not found:
        raise TerminalStepError(
            f"path: no kustomization file in {shown!r} (looked for {', '.join(KUSTOMIZATION_FILES)})"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise TerminalStepError(f"path: {shown!r} holds more than one kustomization file ({names}); keep one")
    return found[0]


def _current(entry: Any) -> KustomizeImage | None:
    if not isinstance(entry, dict) or not entry.get("name"):
        return None
    return KustomizeImage(
        str(entry["name"]),
        str(entry.get("newName") or ""),
        str(entry.get("newTag") or ""),
        str(entry.get("digest") or ""),
    )


class KustomizeSetImage:
    """Set the given images, or every image of the Freight collection; output commitMessage."""

    name: ClassVar[str] = "kustomize-set-image"
    config_model: ClassVar[type[StepConfig]] = KustomizeSetImageConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Updated <path> to use new image(s)` and a line `- <image>[:tag][@digest]` per image.",
    }

    def run(self, ctx: StepContext, config: KustomizeSetImageConfig) -> StepResult:
        file = find_kustomization(ctx.path(config.path), config.path)
        targets = self._from_config(config.images) if config.images else self._from_freight(ctx)
        document = yamledit.load(file, f"{config.path}/{file.name}")
        if not isinstance(document.data, dict):
            raise TerminalStepError(f"{config.path}/{file.name}: a kustomization must be a mapping")
        existing = document.data.get("images") or []
        if not isinstance(existing, list):
            raise TerminalStepError(f"{config.path}/{file.name}: images must be a list")
        merged: dict[str, Any] = {}
        resolved = {name: target.keeping(KustomizeImage(name)) for name, target in targets.items()}
        for entry in existing:
            current = _current(entry)
            if current is None:
                continue
            target = targets.get(current.name)
            if target is None:
                merged[current.name] = entry
            else:
                resolved[current.name] = target.keeping(current)
                merged[current.name] = resolved[current.name].entry()
        for name, image in resolved.items():
            merged.setdefault(name, image.entry())
        images = CommentedSeq([merged[name] for name in sorted(merged)])
        if targets:
            document.data["images"] = images
            document.save()
        message = self._commit_message(config.path, resolved)
        return StepResult(
            message=f"set {len(targets)} image(s) in {config.path}/{file.name}",
            outputs={"commitMessage": message} if message else {},
        )

    def _from_config(self, images: list[ImageUpdate]) -> dict[str, KustomizeImage]:
        targets: dict[str, KustomizeImage] = {}
        for image in images:
            name = image.name or image.image
            targets[name] = KustomizeImage(
                name, image.new_name, "" if image.digest else image.tag, image.digest
            )
        return targets

    def _from_freight(self, ctx: StepContext) -> dict[str, KustomizeImage]:
        collection = list(ctx.freight) or ([ctx.target_freight] if ctx.target_freight else [])
        targets: dict[str, KustomizeImage] = {}
        origins: dict[str, str] = {}
        for freight in collection:
            for image in freight.images:
                target = KustomizeImage(image.repo_url, "", image.tag, image.digest)
                seen = targets.get(image.repo_url)
                if seen is not None and seen != target:
                    raise TerminalStepError(
                        f"images: {image.repo_url} comes from both Warehouse {origins[image.repo_url]} and "
                        f"Warehouse {freight.origin.name} with different versions; "
                        "name the images to set in the step's images list"
                    )
                targets[image.repo_url] = target
                origins[image.repo_url] = freight.origin.name
        if not targets:
            raise TerminalStepError(
                "images: none given and the Freight being promoted has no images; list the images to set"
            )
        return targets

    def _commit_message(self, path: str, targets: dict[str, KustomizeImage]) -> str:
        if not targets:
            return ""
        lines = [f"- {targets[name].ref()}" for name in sorted(targets)]
        plural = "s" if len(targets) > 1 else ""
        return f"Updated {path} to use new image{plural}\n\n" + "\n".join(lines)
