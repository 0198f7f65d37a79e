"""State shared by every command: the global options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kargo_actions.struct import struct

DEFAULT_CONFIG_DIR = Path(".kargo")


@struct
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
        """Write one JSON document to stdout (the contract of `--output json`), secrets redacted."""
        from kargo_actions.redact import redact_data

        # through JSON first: models and dates become strings the redaction can read
        plain = json.loads(json.dumps(value, default=str))
        json.dump(redact_data(plain), sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")


pass_app = click.make_pass_decorator(AppContext)
