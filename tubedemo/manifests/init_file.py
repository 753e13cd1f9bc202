"""The commented default demo.yaml that `tubedemo init` writes. Pure: returns text."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import BaseModel

from tubedemo.core.config import DemoConfig, Section

HEADER = """\
# demo.yaml: everything tubedemo needs to run the talk.
# Durations are written like 90s, 2m or 1h30m. Every field shows its default; delete what you
# do not change. `tubedemo config show` prints the effective config, `tubedemo validate` checks
# the manifests it renders.
"""


def default_demo_yaml(profile: str = "eks") -> str:
    """demo.yaml text with every field, its default and its docstring as a comment."""
    cfg = DemoConfig.model_validate({"profile": profile})
    values = cfg.model_dump(mode="json")
    lines = [HEADER]
    _section(type(cfg), values, 0, lines)
    return "\n".join(lines).rstrip() + "\n"


def _section(model: type[BaseModel], values: dict[str, Any], indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for name, field in model.model_fields.items():
        doc = yaml_words((field.description or "").strip())
        if doc:
            out.extend(f"{pad}# {line}" for line in doc.splitlines())
        value = values[name]
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, Section) and isinstance(value, dict):
            out.append(f"{pad}{name}:")
            _section(nested, value, indent + 1, out)
            if indent == 0:
                out.append("")
            continue
        out.extend(f"{pad}{line}" for line in _dump_field(name, value))
        if indent == 0:
            out.append("")


def yaml_words(doc: str) -> str:
    """A field's docstring as demo.yaml's reader needs it: the models' docstrings say ``None``
    (Python's word) where the file must say ``null`` (YAML reads ``None`` as the text "None")."""
    return re.sub(r"\bNone\b", "null", doc)


def _dump_field(name: str, value: Any) -> list[str]:
    simple = not isinstance(value, dict | list) or (
        isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)
    )
    if simple:
        text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
        text = text.removesuffix("...").strip()  # a lone scalar ends its document with '...'
        return [f"{name}: {text}"]
    dumped = yaml.safe_dump({name: value}, sort_keys=False, default_flow_style=False, width=96)
    return dumped.rstrip().splitlines()
