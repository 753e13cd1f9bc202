"""Reading demo.yaml: the file (built-in defaults when there is none), the --set overrides, and
a validation error turned into one line that names the field and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tubedemo.core import DEFAULT_CONFIG_PATH
from tubedemo.core.config.demo import DemoConfig
from tubedemo.core.errors import ConfigError, first_line


class ConfigLoader(yaml.SafeLoader):
    """YAML as demo.yaml and `--set` read it: PyYAML's safe loader, except that digits with a
    leading zero stay text. YAML 1.1 reads 012345670123 as an octal number, which would turn
    an unquoted account id that starts with 0 into another id (012345678901, not octal, is
    already text); a number field still parses such text as decimal."""


def _leading_zero_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits.startswith("0") and digits.isdigit():
        return text
    return yaml.SafeLoader.construct_yaml_int(loader, node)


ConfigLoader.add_constructor("tag:yaml.org,2002:int", _leading_zero_as_text)


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> DemoConfig:
    """Read demo.yaml (built-in defaults when it does not exist and no path was given).

    ``overrides`` are ``dotted.key=value`` strings (``--set``), applied before validation.
    """
    raw: dict[str, Any] = {}
    explicit = path is not None
    file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if file.exists():
        try:
            loaded = yaml.load(file.read_text(encoding="utf-8"), Loader=ConfigLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            why = first_line(str(exc)) or type(exc).__name__
            raise ConfigError(f"{file}{where}: not valid YAML ({why})") from exc
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read ({exc.strerror})") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping of sections at the top level")
        raw = loaded
    elif explicit:
        raise ConfigError(f"{file}: no such file; create one with `tubedemo init`")
    overridden = [_apply_override(raw, item) for item in overrides or []]
    return config_from_dict(raw, source=str(file), overridden=overridden)


def config_from_dict(
    raw: dict[str, Any], source: str = "demo.yaml", overridden: Sequence[Sequence[str]] = ()
) -> DemoConfig:
    """Validate a mapping; the first problem becomes one ConfigError line naming field and fix.

    ``overridden``: the dotted paths ``--set`` gave, in order. A problem inside one of them (or
    above it: an unknown section) is the --set's, not the file's, so the line names the --set
    (``--set scaling.target: …``) and the presenter looks at the command, not at demo.yaml."""
    try:
        return DemoConfig.model_validate(raw)
    except ValidationError as exc:
        loc = tuple(str(p) for p in exc.errors()[0]["loc"])
        field, why = _explain(exc)
        for path in reversed(overridden):
            common = min(len(path), len(loc))
            if tuple(path[:common]) == loc[:common]:
                where = "--set " + ".".join(path)
                text = why if tuple(path) == loc else f"{field}: {why}"
                raise ConfigError(f"{where}: {text}") from exc
        raise ConfigError(f"{source}: {field}: {why}") from exc


def _apply_override(raw: dict[str, Any], item: str) -> list[str]:
    """Set one ``dotted.key=value`` in ``raw``; the key's path."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: write it as section.field=value")
    key, _, text = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: missing the field name before '='")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {part} is not a section")
        node = child
    node[parts[-1]] = yaml.load(text, Loader=ConfigLoader) if text.strip() else ""
    return parts


MOVED = {
    "k6.request_timeout": "gateway.answer_timeout (one timeout for the ALB, gateway, k6, twin)",
    "twin.audience.give_up_after": (
        "gateway.answer_timeout (one timeout for the ALB, gateway, k6, twin)"
    ),
}
"""Fields that moved: the old dotted name -> where the value lives now."""

GONE = {
    "k6.client_id": (
        "k6 no longer makes up client ids: it sends the gateway's load credential, derived "
        "from the admin token"
    ),
}
"""Fields that no longer exist: the old dotted name -> why."""


def _explain(exc: ValidationError) -> tuple[str, str]:
    """(the first problem's dotted field, what is wrong and the fix)."""
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    field = ".".join(loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden" and field in MOVED:
        return field, f"now {MOVED[field]}; rename it"
    if kind == "extra_forbidden" and field in GONE:
        return field, f"{GONE[field]}; delete the line"
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(loc[-1], list(parent.model_fields), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; known fields: {', '.join(parent.model_fields)}"
            )
        return field, f"unknown field{hint}"
    if kind == "missing":
        return field, "required field is missing; add it"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return field, message


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = DemoConfig
    for part in loc:
        if part.isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if nested is None:
            return None
        model = nested
    return model
