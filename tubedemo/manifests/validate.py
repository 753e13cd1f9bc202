"""Check manifests before anything reaches a cluster. No side effects beyond reading schemas.

- Kubernetes kinds: strict OpenAPI schema of the pinned Kubernetes version (kubernetes-validate):
  unknown fields are errors, as with server-side field validation.
- KEDA and Karpenter kinds: the openAPIV3Schema of the real upstream CRDs
  (tubedemo.manifests.crds), made strict the way the API server prunes and rejects unknown fields.
- ScaledObject formulas: the expr-lang check in tubedemo.core.formula.

CEL rules (x-kubernetes-validations) are not evaluated here; `tubedemo up --dry-run` asks the
API server, which does.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tubedemo.core.errors import ValidationFailed
from tubedemo.core.formula import FormulaError, check, identifiers, parse
from tubedemo.manifests.render import Manifest, object_ref

KUBERNETES_VERSION = "1.34.0"
"""Schemas of this Kubernetes minor version; matches the control plane the tests build."""


@dataclass(frozen=True)
class Problem:
    """One reason an object would be refused."""

    ref: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.ref}{where}: {self.message}"


def validate_manifests(manifests: Iterable[Manifest], crds: list[dict[str, Any]]) -> list[Problem]:
    """Every problem found in ``manifests``; an empty list means they pass."""
    crd_schemas = _crd_validators(tuple(_crd_key_and_schema(crds)))
    problems: list[Problem] = []
    for obj in manifests:
        problems.extend(_validate_one(obj, crd_schemas))
    return problems


def ensure_valid(manifests: Iterable[Manifest], crds: list[dict[str, Any]]) -> None:
    """Raise ValidationFailed listing the problems (first lines) if there are any."""
    problems = validate_manifests(manifests, crds)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        noun = "problem" if len(problems) == 1 else "problems"
        raise ValidationFailed(f"{len(problems)} {noun} in the manifests:\n  {shown}{more}")


def load_manifest_files(paths: Iterable[Path]) -> list[Manifest]:
    """Objects from YAML files or folders of them (``*.yaml``/``*.yml``, sorted)."""
    objects: list[Manifest] = []
    for path in paths:
        files = (
            sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if path.is_dir()
            else [path]
        )
        if path.is_dir() and not files:
            raise ValidationFailed(f"{path}: no .yaml files to validate")
        for file in files:
            try:
                docs = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
            except FileNotFoundError as exc:
                raise ValidationFailed(f"{file}: no such file") from exc
            except yaml.YAMLError as exc:
                raise ValidationFailed(f"{file}: not valid YAML ({exc})") from exc
            for doc in docs:
                if doc is None:
                    continue
                if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                    raise ValidationFailed(f"{file}: a document without apiVersion and kind")
                objects.append(doc)
    return objects


# --- one object -----------------------------------------------------------------------------


def _validate_one(
    obj: Manifest, crd_schemas: dict[tuple[str, str], jsonschema.protocols.Validator]
) -> list[Problem]:
    ref = object_ref(obj)
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    group = api_version.split("/")[0] if "/" in api_version else ""
    validator = crd_schemas.get((api_version, kind))
    problems: list[Problem] = []
    if validator is not None:
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            problems.append(Problem(ref, _path(error.absolute_path), _message(error)))
    elif "." in group and not group.endswith(".k8s.io"):
        problems.append(
            Problem(
                ref,
                "",
                f"no schema for {api_version} {kind}: its CRD is not among "
                "the pinned upstream CRDs",
            )
        )
    else:
        problems.extend(_validate_builtin(obj, ref))
    if kind == "ScaledObject":
        problems.extend(_check_formula(obj, ref))
    return problems


def _validate_builtin(obj: Manifest, ref: str) -> list[Problem]:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [
            Problem(
                ref,
                "",
                f"{obj.get('apiVersion')} {obj.get('kind')} does not exist in "
                f"Kubernetes {KUBERNETES_VERSION}",
            )
        ]
    except kubernetes_validate.ValidationError as exc:
        # kubernetes-validate re-raises the jsonschema error with its attributes copied over.
        return [Problem(ref, _path(exc.absolute_path), _message(exc))]
    return []


def _check_formula(obj: Manifest, ref: str) -> list[Problem]:
    """Every problem of the formula and its triggers, not only the first one found."""
    spec = obj.get("spec") or {}
    modifiers = (spec.get("advanced") or {}).get("scalingModifiers") or {}
    formula = modifiers.get("formula")
    if not formula:
        return []
    problems: list[Problem] = []
    triggers = [t for t in spec.get("triggers") or [] if isinstance(t, dict)]
    unnamed = [i for i, t in enumerate(spec.get("triggers") or []) if not _name_of(t)]
    for index in unnamed:
        problems.append(
            Problem(
                ref,
                f"spec.triggers[{index}]",
                "a trigger without `name`; every trigger needs one when a formula is used",
            )
        )
    if "target" not in modifiers:
        problems.append(
            Problem(ref, "spec.advanced.scalingModifiers", "a formula needs a `target`")
        )
    known = frozenset(str(_name_of(t)) for t in triggers if _name_of(t))
    if unnamed:
        # Any identifier may be meant for an unnamed trigger; its missing name is reported
        # above, so only the formula's own problems (functions, syntax, types) are added.
        with contextlib.suppress(FormulaError):  # a syntax error: check() below reports it
            known |= identifiers(parse(str(formula)))
    try:
        check(str(formula), known)
    except FormulaError as exc:
        problems.append(Problem(ref, "spec.advanced.scalingModifiers.formula", exc.message))
    return problems


def _name_of(trigger: object) -> object:
    return trigger.get("name") if isinstance(trigger, dict) else None


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown field ({error.message.split('(')[-1].rstrip(')')})"
    if error.validator == "pattern":
        return f"{error.instance!r} does not match the required format {error.schema['pattern']}"
    return str(error.message)


# --- CRD schemas ----------------------------------------------------------------------------


def _crd_key_and_schema(crds: list[dict[str, Any]]) -> Iterable[tuple[str, str, str]]:
    for crd in crds:
        spec = crd.get("spec", {})
        group = spec.get("group", "")
        kind = spec.get("names", {}).get("kind", "")
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema and version.get("served", True):
                # JSON text keeps the lru_cache key hashable and the cached validators shared.
                yield (f"{group}/{version['name']}", kind, json.dumps(schema, sort_keys=True))


@lru_cache(maxsize=8)
def _crd_validators(
    entries: tuple[tuple[str, str, str], ...],
) -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    return {
        (api_version, kind): jsonschema.Draft202012Validator(strict_schema(json.loads(text)))
        for api_version, kind, text in entries
    }


_COPIED = (
    "type",
    "required",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema (2020-12) for a CRD's structural OpenAPI v3 schema, unknown fields refused.

    The API server prunes unknown fields and, with strict field validation, rejects them, except
    below x-kubernetes-preserve-unknown-fields; int-or-string and nullable are spelled out.
    """
    out: dict[str, Any] = {k: copy.deepcopy(schema[k]) for k in _COPIED if k in schema}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    # OpenAPI 3.0 spells exclusive bounds as booleans beside minimum/maximum.
    if schema.get("exclusiveMinimum") is True and "minimum" in out:
        out["exclusiveMinimum"] = out.pop("minimum")
    if schema.get("exclusiveMaximum") is True and "maximum" in out:
        out["exclusiveMaximum"] = out.pop("maximum")
    if "properties" in schema:
        out["properties"] = {k: strict_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema and isinstance(schema["items"], dict):
        out["items"] = strict_schema(schema["items"])
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = strict_schema(additional)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in schema:
            # Structural schemas only use these for value checks, never to declare fields.
            out.setdefault("allOf", []).append(
                {combinator: [_value_only(s) for s in schema[combinator]]}
            )
    if "not" in schema:
        out["not"] = _value_only(schema["not"])
    return out


def _value_only(schema: dict[str, Any]) -> dict[str, Any]:
    converted = strict_schema(schema)
    converted.pop("additionalProperties", None)
    return converted
