"""A small declarative schema: dataclasses with field metadata, validated with every problem
reported at its YAML path, and rendered as JSON Schema from the same definitions.

Rules a reader must keep: every config value is declared once, as a dataclass field made with
`setting()`; validation never stops at the first problem; unknown keys are errors, never dropped.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Any, Literal, get_args, get_origin

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    line: int | None = None
    # A setting that nothing which runs reads (redis.maxmemory_mb beside a url): validate, up and deploy refuse it;
    # what runs from a topology, or reaches what runs, goes on without it (launcher.topology.load_to_run).
    unread: bool = False

    def render(self, source: str | None = None) -> str:
        where = format_path(self.path) or "(top level)"
        prefix = ""
        if source is not None:
            prefix = f"{source}:{self.line}: " if self.line else f"{source}: "
        return f"{prefix}{where}: {self.message}"


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def setting(default: Any = MISSING, *, doc: str, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, factory: Any = MISSING) -> Any:
    """Declare one config field with its documentation and numeric bounds."""
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt}
    if factory is not MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class SchemaError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(p.render() for p in problems))
        self.problems = problems


# --------------------------------------------------------------------------- YAML with lines


class _Loader(yaml.SafeLoader):
    pass


# Aliases let a few lines of YAML stand for billions of values ("billion laughs"); a topology has a
# few hundred, so building stops at this many values instead of exhausting memory.
MAX_YAML_VALUES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


def load_yaml_with_lines(text: str) -> tuple[Any, dict[Path, int], list[Problem]]:
    """Parse YAML keeping the line of every value; duplicate keys are problems, not overrides."""
    lines: dict[Path, int] = {}
    problems: list[Problem] = []
    built = 0
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines, problems

        def build(n: yaml.Node, path: Path) -> Any:
            nonlocal built
            built += 1
            if built > MAX_YAML_VALUES:
                raise yaml.YAMLError(f"more than {MAX_YAML_VALUES} values (aliases expanding without bound?)")
            lines[path] = n.start_mark.line + 1
            if isinstance(n, yaml.MappingNode):
                # YAML's merge (`<<: *base`, `<<: [*a, *b]`): the mapping's own keys win, then the earlier merged
                # mapping; only a key the mapping itself writes twice is a duplicate. Resolved here, leaving the node
                # as parsed: PyYAML's flatten_mapping rewrites an anchored node in place, so the same mapping built
                # again through its anchor took its merged keys for its own (a `duplicate key`) and, merged again,
                # could take the overridden value (opday2).
                merged: dict[Any, Any] = {}
                out: dict[Any, Any] = {}
                for key_node, value_node in n.value:
                    if key_node.tag == MERGE_TAG:
                        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                        for source in sources:
                            if not isinstance(source, yaml.MappingNode):
                                raise yaml.constructor.ConstructorError(
                                    None, None, f"expected a mapping or list of mappings for merging, but found "
                                    f"{source.id}", source.start_mark)
                            for key, value in build(source, path).items():
                                merged.setdefault(key, value)
                        continue
                    key = scalar(key_node)
                    if not isinstance(key, (str, int, float, bool)):
                        problems.append(Problem(path, f"mapping key {key!r} is not a scalar",
                                                key_node.start_mark.line + 1))
                        continue
                    if key in out:
                        problems.append(Problem(path + (str(key),), "duplicate key",
                                                key_node.start_mark.line + 1))
                    out[key] = build(value_node, path + (str(key),))
                lines[path] = n.start_mark.line + 1  # a merged mapping's build set it to its own line
                return {**merged, **out}
            if isinstance(n, yaml.SequenceNode):
                return [build(item, path + (i,)) for i, item in enumerate(n.value)]
            return scalar(n)

        def scalar(n: yaml.Node) -> Any:
            """A key or a value; one YAML's rules cannot build is a ConstructorError naming its line."""
            try:
                return loader.construct_object(n, deep=True)
            except (ValueError, KeyError, AttributeError) as exc:
                # `2026-13-45` (a date to YAML), an integer of more than 4300 digits; `!!bool maybe` (KeyError),
                # `!!timestamp nope` (AttributeError): PyYAML's own errors, with neither line nor value
                raise yaml.constructor.ConstructorError(None, None, unreadable_scalar(n, exc), n.start_mark) from None

        return build(node, ()), lines, problems
    finally:
        loader.dispose()


def unreadable_scalar(n: yaml.Node, exc: Exception) -> str:
    """Why a scalar that YAML's rules make a number or a date cannot be built: it said only the error (`month must be
    in 1..12`, Python's digit limit and `use sys.set_int_max_str_digits()`), with no line and no value."""
    kind = n.tag.rpartition(":")[2]
    text = str(n.value)
    shown = f"{text[:40]!r}..." if len(text) > 40 else repr(text)
    if kind == "int" and "digits" in str(exc):
        return f"the integer {shown} has {len(text):,} characters, past the {sys.get_int_max_str_digits():,} digits read"
    why = f": {exc}" if isinstance(exc, ValueError) else ""  # KeyError 'maybe', AttributeError of a None match
    article = "an" if kind[:1] in "aeiou" else "a"  # an int, a timestamp
    return f"{shown} is {article} {kind} to YAML, and no valid one{why} (quote it if it is text)"


# --------------------------------------------------------------------------- validation


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, dict):  # "a list of strings", not "a list of a string"
        item = _type_name(get_args(tp)[-1])
        plural = f"{item.split(' ', 1)[1]}s" if item in ("a string", "an integer", "a number", "a mapping") else None
        what = "a list" if origin is list else "a mapping"
        return f"{what} of {plural}" if plural else f"{what}, each {item}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


class Validator:
    """Builds typed config objects from plain data, collecting every problem with its path."""

    def __init__(self, lines: dict[Path, int] | None = None):
        self.lines = lines or {}
        self.problems: list[Problem] = []

    def problem(self, path: Path, message: str, *, unread: bool = False) -> None:
        line = None
        probe = path
        while probe not in self.lines and probe:
            probe = probe[:-1]
        line = self.lines.get(probe)
        self.problems.append(Problem(path, message, line, unread))

    def unread_key(self, path: Path, message: str) -> None:
        """A key nothing reads in this setup, refused in one line: what was said of its value (null where an integer
        goes) is dropped, since no value there would do."""
        self.problems = [p for p in self.problems if p.path[:len(path)] != path]
        self.problem(path, message, unread=True)

    def build(self, tp: Any, value: Any, path: Path) -> Any:
        origin = get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = get_args(tp)
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            if len(inner) == 1:
                return self.build(inner[0], value, path)
            self.problem(path, f"expected {_type_name(tp)}, got {shown(value)}")
            return None
        if origin is Literal:
            choices = get_args(tp)
            if value not in choices:
                hint = _did_you_mean(str(value), [str(c) for c in choices])
                self.problem(path, f"expected one of {', '.join(map(str, choices))}, got {shown(value)}{hint}")
            return value
        if origin is list:
            if not isinstance(value, list):
                self.problem(path, f"expected {_type_name(tp)}, got {_describe(value)}")
                return []
            (item_tp,) = get_args(tp)
            return [self.build(item_tp, v, path + (i,)) for i, v in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                self.problem(path, f"expected {_type_name(tp)}, got {_describe(value)}")
                return {}
            _, item_tp = get_args(tp)
            return {str(k): self.build(item_tp, v, path + (str(k),)) for k, v in value.items()}
        if dataclasses.is_dataclass(tp):
            return self.build_dataclass(tp, value, path)
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.problem(path, f"expected a number, got {_describe(value)}{_exponent_hint(value, float)}")
                return 0.0
            if value != value or value in (float("inf"), float("-inf")):
                self.problem(path, f"expected a finite number, got {value!r}")
                return 0.0
            return float(value)
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.problem(path, f"expected an integer, got {_describe(value)}{_exponent_hint(value, int)}")
                return 0
            return value
        if tp is bool:
            if not isinstance(value, bool):
                self.problem(path, f"expected true or false, got {_describe(value)}")
                return False
            return value
        if tp is str:
            if not isinstance(value, str):
                self.problem(path, f"expected a string, got {_describe(value)}")
                return ""
            return value
        if tp is Any:
            return value
        raise TypeError(f"schema type {tp!r} is not supported")

    def build_dataclass(self, cls: Any, value: Any, path: Path) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_describe(value)}")
            value = {}
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        for key in value:
            if key not in fields:
                self.problem(path + (str(key),), "unknown key" + _did_you_mean(str(key), list(fields)))
        kwargs: dict[str, Any] = {}
        for name, f in fields.items():
            if name in value:
                before = len(self.problems)
                built = self.build(hints[name], value[name], path + (name,))
                if len(self.problems) == before:
                    self._check_bounds(f, built, path + (name,))
                kwargs[name] = built
            elif f.default is MISSING and f.default_factory is MISSING:
                self.problem(path + (name,), "required key is missing")
        hook = getattr(cls, "__schema_build__", None)
        if hook is not None:
            kwargs = hook(self, kwargs, value, path)
        try:
            return cls(**{k: v for k, v in kwargs.items() if k in fields})
        except TypeError:
            # A required field was missing and already reported; build with placeholders.
            for name, f in fields.items():
                if name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
                    kwargs[name] = _placeholder(hints[name])
            return cls(**{k: v for k, v in kwargs.items() if k in fields})

    def _check_bounds(self, f: dataclasses.Field, value: Any, path: Path) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        m = f.metadata
        if m.get("ge") is not None and value < m["ge"]:
            self.problem(path, f"must be >= {m['ge']}, got {shown(value)}")
        if m.get("gt") is not None and value <= m["gt"]:
            self.problem(path, f"must be > {m['gt']}, got {shown(value)}")
        if m.get("le") is not None and value > m["le"]:
            self.problem(path, f"must be <= {m['le']}, got {shown(value)}")
        if m.get("lt") is not None and value >= m["lt"]:
            self.problem(path, f"must be < {m['lt']}, got {shown(value)}")


def _placeholder(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if origin is Literal:
        return get_args(tp)[0]
    if dataclasses.is_dataclass(tp):
        return Validator().build_dataclass(tp, {}, ())
    return {int: 0, float: 0.0, str: "", bool: False}.get(tp)


def _exponent_hint(value: Any, tp: type) -> str:
    """Why a number in exponent form is text: YAML 1.1 (PyYAML) reads 1e9 or 5E-3 as a string unless the mantissa
    has a dot and the exponent a sign; `expected a number, got str '1e9'` sent the operator looking for quotes."""
    if not isinstance(value, str) or "e" not in value.lower():
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if number != number or number in (float("inf"), float("-inf")):
        return ""
    if tp is int:
        return f" (YAML reads {value} as text: write {int(number)})" if number == int(number) else ""
    mantissa, _, exponent = value.lower().partition("e")
    mantissa = mantissa if "." in mantissa else mantissa + ".0"
    exponent = exponent if exponent[:1] in "+-" else "+" + exponent
    return f" (YAML reads {value} as text: write {mantissa}e{exponent})"


# A value a problem names is shown up to this many characters: a blob pasted into a setting made a line of its size.
MAX_SHOWN_CHARS = 80


# The password of a URL written in a value (`redis://user:PASSWORD@host`): never repeated in a message.
URL_PASSWORD_RE = re.compile(r"(://[^:/@\s'\"]*:)[^@\s'\"]*@")


def shown(value: Any) -> str:
    """repr(value), any URL's password in it masked (a url written as a list was refused with it repeated), cut to
    MAX_SHOWN_CHARS with its full size said."""
    text = URL_PASSWORD_RE.sub(r"\1***@", repr(value))
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}... ({len(text):,} characters)"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {shown(value)}"


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(candidates)})"


# --------------------------------------------------------------------------- JSON Schema


def json_schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema_for(a, defs) for a in get_args(tp)]}
    if tp is type(None):
        return {"type": "null"}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin is list:
        return {"type": "array", "items": json_schema_for(get_args(tp)[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": json_schema_for(get_args(tp)[1], defs)}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # reserve against recursion
            defs[name] = dataclass_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    return {int: {"type": "integer"}, float: {"type": "number"}, str: {"type": "string"},
            bool: {"type": "boolean"}, Any: {}}[tp]


def dataclass_schema(cls: Any, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        schema = dict(json_schema_for(hints[f.name], defs))
        meta = f.metadata
        if meta.get("doc"):
            schema["description"] = meta["doc"]
        for key, js in (("ge", "minimum"), ("gt", "exclusiveMinimum"), ("le", "maximum"), ("lt", "exclusiveMaximum")):
            if meta.get(key) is not None:
                schema[js] = meta[key]
        if f.default is not MISSING and isinstance(f.default, (int, float, str, bool, type(None))):
            schema["default"] = f.default
        if f.default is MISSING and f.default_factory is MISSING:
            required.append(f.name)
        props[f.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    if required:
        out["required"] = required
    return out
