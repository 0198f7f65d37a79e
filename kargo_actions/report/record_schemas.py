"""Generate the JSON Schemas of the ledger records (kargo_actions/ledger/schemas/) from the record models.

The schemas are the records' documented format (docs/ledger.md) and what the quick read path of
`freight show` checks records against without loading pydantic (kargo_actions/ledger/shapes.py).
Regenerate with `python -m kargo_actions.report.record_schemas --write`; `--check` (and a test) fails when a
file is missing or stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kargo_actions.ledger import records
from kargo_actions.ledger.shapes import SCHEMA_DIR
from kargo_actions.model.base import model_in

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# File stem -> record model: every kind of file the ledger branch holds.
RECORDS: dict[str, type[BaseModel]] = {
    "ledger-marker": records.LedgerMarker,
    "freight-record": records.FreightRecord,
    "alias-record": records.AliasRecord,
    "discovered-artifacts-record": records.DiscoveredArtifactsRecord,
    "promotion-record": records.PromotionRecord,
    "verification-record": records.VerificationRecord,
    "approval-record": records.ApprovalRecord,
    "stage-state-record": records.StageStateRecord,
    "metadata-record": records.MetadataRecord,
    "freeze-record": records.FreezeRecord,
    "deferred-promotion-record": records.DeferredPromotionRecord,
}


def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The model and every model nested in its fields, by class name (pydantic's $defs keys)."""
    found: dict[str, type[BaseModel]] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for field in model.model_fields.values():
            nested = model_in(field.annotation)
            if nested is not None:
                todo.append(nested)
    return found


def _tidy(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Field titles out (pydantic derives them from names), factory defaults in (pydantic leaves them out)."""
    properties: dict[str, Any] = schema.get("properties", {})
    for name, field in model.model_fields.items():
        prop = properties.get(field.alias or name)
        if prop is None:
            continue
        prop.pop("title", None)
        if field.default_factory is not None and "default" not in prop:
            prop["default"] = field.default_factory()  # type: ignore[call-arg]


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True)
    models = _models(model)
    _tidy(schema, model)
    for name, definition in schema.get("$defs", {}).items():
        _tidy(definition, models[name])
    return json.dumps({"$schema": DIALECT, **schema}, indent=2, ensure_ascii=False) + "\n"


def stale_files(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Schema files that are missing or differ from what the models give now."""
    return [
        path
        for stem, model in RECORDS.items()
        if not (path := directory / f"{stem}.schema.json").is_file()
        or path.read_text(encoding="utf-8") != render(model)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite the schema files")
    parser.add_argument("--check", action="store_true", help="exit 1 when a schema file is missing or stale")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="where the schema files live")
    args = parser.parse_args(argv)
    if args.write:
        args.dir.mkdir(parents=True, exist_ok=True)
        for stem, model in RECORDS.items():
            (args.dir / f"{stem}.schema.json").write_text(render(model), encoding="utf-8")
        return 0
    stale = stale_files(args.dir)
    for path in stale:
        print(f"{path}: missing or stale (run with --write)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
