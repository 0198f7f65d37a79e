"""The one writer of GitHub Actions step outputs ($GITHUB_OUTPUT) and job summaries ($GITHUB_STEP_SUMMARY),
redacted (kargo_actions.redact, which also writes the log masks) as they are written; `mask_secret` masks a
secret once per process.

Every value is written as `name<<DELIMITER` ... `DELIMITER` with a fresh random delimiter, so a value
holding newlines, `=` or text an attacker chose cannot end the value early and set other outputs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.redact import add_secret, mask, redact

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def output_text(value: Any) -> str:
    """An output's text: strings as they are, everything else (numbers, lists, objects, null) as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def valid_output_name(name: str) -> bool:
    return bool(_NAME.match(name))


def format_outputs(values: Mapping[str, Any]) -> str:
    """The $GITHUB_OUTPUT text for `values`: one heredoc per name, each with its own random delimiter."""
    problems = [
        Problem(path=name, message="not a valid output name", hint="letters, digits, _ and -")
        for name in values
        if not _NAME.match(name)
    ]
    if problems:
        raise InvalidInputError(problems)
    chunks: list[str] = []
    for name, value in values.items():
        text = redact(output_text(value))
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in text:  # astronomically unlikely; never let a value contain its own end
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        chunks.append(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
    return "".join(chunks)


def write_outputs(values: Mapping[str, Any], path: str | Path | None = None) -> bool:
    """Append `values` to $GITHUB_OUTPUT (or `path`); False, writing nothing, when neither is set."""
    target = path if path is not None else os.environ.get("GITHUB_OUTPUT", "")
    if not target:
        return False
    text = format_outputs(values)
    with open(target, "a", encoding="utf-8") as out:
        out.write(text)
    return True


def append_step_summary(markdown: str, path: str | None = None) -> bool:
    """Append `markdown`, redacted, to $GITHUB_STEP_SUMMARY (or `path`); False when neither is set."""
    target = path if path is not None else os.environ.get("GITHUB_STEP_SUMMARY", "")
    if not target or not markdown:
        return False
    with open(target, "a", encoding="utf-8") as out:
        out.write(redact(markdown))
    return True


_masked: set[str] = set()
_mask_lock = threading.Lock()


def mask_secret(value: str, env: Mapping[str, str]) -> None:
    """In GitHub Actions (`GITHUB_ACTIONS=true` in `env`), mask a secret as soon as it is read, once per process."""
    add_secret(value)  # redacted from records and outputs in and out of Actions
    if not value or env.get("GITHUB_ACTIONS") != "true":
        return
    with _mask_lock:
        if value in _masked:
            return
        _masked.add(value)
    mask(value)


STATUS_BY_EXIT = {0: "succeeded", 1: "failed", 2: "invalid", 3: "refused", 4: "error"}


def command_outputs(document: Any, exit_code: int) -> dict[str, str]:
    """The root action's outputs from a command's `--output json` document and exit code.

    `freight`: the Freight IDs the result names, one per line (a Freight resource's metadata.name, or a
    `freight` field); `promotion`: the promotion names (objects with a `phase` and a `name`, or an
    auto-promotion decision's `promotion`); `status`: succeeded, failed, invalid, refused or error (from the
    exit code); `result`: the document as JSON.
    """
    freight: list[str] = []
    promotions: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        if node.get("kind") == "Freight" and isinstance(node.get("metadata"), dict):
            _add(freight, node["metadata"].get("name"))
        if isinstance(node.get("freight"), str):
            _add(freight, node["freight"])
        if "phase" in node and isinstance(node.get("name"), str):
            _add(promotions, node["name"])
        if "phase" in node and isinstance(node.get("promotion"), str):  # a `promote --auto` decision
            _add(promotions, node["promotion"])
        for key in ("promotions", "freight", "items", "created", "results"):
            child = node.get(key)
            if isinstance(child, (list, dict)):
                visit(child)

    visit(document)
    return {
        "freight": "\n".join(freight),
        "promotion": "\n".join(promotions),
        "status": STATUS_BY_EXIT.get(exit_code, "error"),
        "exit-code": str(exit_code),
        "result": output_text(document) if document is not None else "",
    }


def _add(found: list[str], value: Any) -> None:
    if isinstance(value, str) and value and value not in found:
        found.append(value)


def main(argv: list[str] | None = None) -> int:
    """`python -m kargo_actions.github.output EXIT_CODE [RESULT.json]`: the actions' outputs of one command."""
    args = sys.argv[1:] if argv is None else argv
    if not args or not args[0].lstrip("-").isdigit():
        print("usage: python -m kargo_actions.github.output EXIT_CODE [RESULT.json]", file=sys.stderr)
        return 2
    code = int(args[0])
    document: Any = None
    if len(args) > 1:
        text = Path(args[1]).read_text(encoding="utf-8").strip()
        try:
            document = json.loads(text) if text else None
        except json.JSONDecodeError:
            document = text  # not JSON (a command without JSON output): passed on as it is
    if not write_outputs(command_outputs(document, code)):
        print("GITHUB_OUTPUT is not set: no outputs written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
