"""toml-update: set values of existing keys of a TOML file, keeping its comments, order and layout (tomlkit)."""

from __future__ import annotations

from typing import Any, ClassVar

import tomlkit
from pydantic import Field
from tomlkit import items
from tomlkit.exceptions import TOMLKitError

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.json_update import check_scalar
from kargo_actions.promotion.steps.support import structured
from kargo_actions.promotion.steps.support.keypath import parse_key, shown

_SCALARS = (items.String, items.Integer, items.Float, items.Bool, items.Date, items.Time, items.DateTime)


class TomlUpdate(StepConfig):
    """One existing key (`package.version`, `values.1`, `labels.example\\.com/v`) and its new scalar value."""

    key: NonEmpty
    """Dotted path of an existing key: `package.version`, `ports.1`, `servers.0.name` (array of tables), `\\.` a literal dot."""
    value: Any
    """The new value: a string, number or boolean."""


class TomlUpdateConfig(StepConfig):
    """Kargo's TOMLUpdateConfig."""

    path: NonEmpty
    """The TOML file."""
    updates: list[TomlUpdate] = Field(min_length=1)
    """`{key, value}` pairs, applied in order."""


def _item(value: Any, like: Any) -> Any:
    """`value` as a TOML item; a string replacing a 'literal string' stays literal when it can."""
    if isinstance(value, str) and isinstance(like, items.String):
        literal = like.type in (items.StringType.SLL, items.StringType.MLL)
        if literal and "'" not in value and "\n" not in value:
            return tomlkit.string(value, literal=True)
    return tomlkit.item(value)


def _kind(node: Any) -> str:
    if isinstance(node, items.AoT | items.Array):
        return "an array"
    if isinstance(node, items.InlineTable):
        return "an inline table"
    return "a table"


class TomlUpdateStep:
    """Apply every update (each key must exist and hold a scalar), write the file once; output commitMessage."""

    name: ClassVar[str] = "toml-update"
    config_model: ClassVar[type[StepConfig]] = TomlUpdateConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commitMessage": "`Updated <path>` and `- <key>: <value as TOML>` per update"
    }

    def run(self, ctx: StepContext, config: TomlUpdateConfig) -> StepResult:
        path = ctx.path(config.path)
        text = structured.read_path(path, config.path, kind="TOML file")
        structured.parse_toml(text, config.path)  # the same messages as toml-parse for a broken file
        try:
            document = tomlkit.parse(text)
        except TOMLKitError as err:
            raise TerminalStepError(f"{config.path}: not valid TOML: {err}") from None
        shown_values: list[str] = []
        for index, update in enumerate(config.updates):
            check_scalar(self.name, index, update.key, update.value)
            item = self._set(document, config.path, update.key, update.value)
            shown_values.append(item.as_string())
        try:
            path.write_text(tomlkit.dumps(document), encoding="utf-8")
        except OSError as err:
            raise StepError(f"path: cannot write {config.path!r}: {err.strerror or err}") from err
        lines = "\n".join(f"- {u.key}: {v}" for u, v in zip(config.updates, shown_values, strict=True))
        return StepResult(
            message=f"updated {len(config.updates)} key(s) in {config.path}",
            outputs={"commitMessage": f"Updated {config.path}\n\n{lines}"},
        )

    def _set(self, document: Any, file: str, key: str, value: Any) -> Any:
        """Replace the scalar at `key`; Kargo's toml-update never creates keys, so a missing one is an error."""
        parts = parse_key(key)
        parent: Any = None
        slot: Any = None
        node: Any = document
        for depth, part in enumerate(parts):
            if isinstance(node, items.AoT | items.Array):
                index = part.index()
                if index is None or not 0 <= index < len(node):
                    raise self._missing(
                        key, file, parts, depth, f"{shown(parts, depth)!r} has {len(node)} item(s)"
                    )
                parent, slot, node = node, index, node[index]
            elif isinstance(node, dict) and not isinstance(node, _SCALARS):
                if part.name not in node:
                    raise self._missing(key, file, parts, depth, "")
                parent, slot, node = node, part.name, node[part.name]
            else:
                raise self._missing(key, file, parts, depth, f"{shown(parts, depth)!r} holds a scalar")
        if not isinstance(node, _SCALARS):
            raise TerminalStepError(
                f"key {key!r}: addresses {_kind(node)} in {file}, not a scalar; toml-update sets scalars only"
            )
        item = _item(value, node)
        parent[slot] = item
        return item

    def _missing(self, key: str, file: str, parts: Any, depth: int, why: str) -> TerminalStepError:
        where = f"{why}; " if why else ""
        return TerminalStepError(
            f"key {key!r}: {shown(parts, depth + 1)!r} not found in {file} ({where}toml-update changes existing "
            "keys only, as Kargo's does)"
        )
