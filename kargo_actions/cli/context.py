"""State shared by every command: the global options."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

DEFAULT_CONFIG_DIR = Path(".kargo")


@dataclass(frozen=True)
class AppContext:
    repo: Path
    config_dir_option: Path | None
    output: str
    debug: bool

    @property
    def config_dir(self) -> Path:
        """The manifests folder: --config-dir (relative to --repo unless absolute), default .kargo."""
        chosen = self.config_dir_option or DEFAULT_CONFIG_DIR
        return chosen if chosen.is_absolute() else self.repo / chosen

    @property
    def json(self) -> bool:
        return self.output == "json"

    def emit_json(self, value: Any) -> None:
        """Write one JSON document to stdout (the contract of `--output json`)."""
        json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
        sys.stdout.write("\n")


pass_app = click.make_pass_decorator(AppContext)
