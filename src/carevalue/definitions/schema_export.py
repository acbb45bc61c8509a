"""JSON Schema per kind, for editors (YAML language servers validate content as it is typed)."""

from __future__ import annotations

import json
from pathlib import Path

from carevalue.definitions.loader import register_all


def export(out: Path) -> list[Path]:
    """Write ``<kind>.schema.json`` for every registered kind into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for folder, model in sorted(register_all().items()):
        schema = model.model_json_schema(by_alias=True)
        schema["$id"] = f"https://carevalue.org/schema/{folder}.schema.json"
        schema["title"] = f"carevalue {folder} definition ({model.__name__})"
        path = out / f"{folder}.schema.json"
        path.write_text(json.dumps(schema, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written
