"""yaml-merge: merge YAML files in order into one (mappings merge, lists and scalars replace, null deletes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, StrictBool, StrictStr

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import yamledit


class YamlMergeConfig(StepConfig):
    """Kargo's YAMLMergeConfig."""

    in_files: list[StrictStr] = Field(min_length=1)
    """The YAML files, merged in order: each later file over the result of the earlier ones."""
    out_file: NonEmpty
    """The merged file to write (replaced when it exists; folders are created)."""
    ignore_missing_files: StrictBool = False
    """Skip input files that do not exist instead of failing."""


def merge(base: Any, patch: Any) -> Any:
    """`patch` applied over `base` as Kargo (kyaml's merge2) and Helm do; comments of both are kept."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return patch
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)  # an explicit null removes the key
        elif key in base and isinstance(base[key], dict) and isinstance(value, dict):
            base[key] = merge(base[key], value)
        else:
            base[key] = value
    return base


class YamlMerge:
    """Read every existing input (empty files count as nothing), merge, write outFile; output commitMessage."""

    name: ClassVar[str] = "yaml-merge"
    config_model: ClassVar[type[StepConfig]] = YamlMergeConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Wrote <file> to <outFile>`, or `Merged N YAML files to <outFile>` and the files read"
    }

    def run(self, ctx: StepContext, config: YamlMergeConfig) -> StepResult:
        out = ctx.path(config.out_file, field_name="outFile")
        used: list[str] = []
        merged: Any = None
        for index, relative in enumerate(config.in_files):
            ctx.check_abort()
            field_name = f"inFiles[{index}]"
            path = ctx.path(relative, field_name=field_name)
            if not path.exists():
                if config.ignore_missing_files:
                    continue
                raise TerminalStepError(
                    f"{field_name}: {relative!r} does not exist (set ignoreMissingFiles: true to skip missing files)"
                )
            if path.is_dir():
                raise TerminalStepError(f"{field_name}: {relative!r} is a directory, not a YAML file")
            used.append(relative)
            document = yamledit.load(path, relative)
            if document.data is None:
                continue  # an empty file adds nothing, as in Kargo
            merged = document.data if merged is None else merge(merged, document.data)
        self._write(out, config.out_file, merged)
        return StepResult(
            message=f"merged {len(used)} file(s) into {config.out_file}",
            outputs={"commitMessage": _commit_message(used, config.out_file)} if used else {},
        )

    def _write(self, out: Path, shown: str, data: Any) -> None:
        if out.is_dir():
            raise TerminalStepError(f"outFile: {shown!r} is a directory")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if data is None:
                out.write_text("")
            else:
                # Kargo writes through kyaml: 2-space mappings, sequences not indented under their key.
                yamledit.compact(out, data).save()
        except OSError as err:
            raise StepError(f"outFile: cannot write {shown!r}: {err.strerror or err}") from err


def _commit_message(used: list[str], out: str) -> str:
    if len(used) == 1:
        return f"Wrote {used[0]} to {out}"
    return f"Merged {len(used)} YAML files to {out}" + "".join(f"\n- {path}" for path in used)
