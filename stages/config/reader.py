"""Reading typed config sections out of `cdk.json` values, with one-line errors that name the field.

A section is a frozen dataclass. Each field says how it is read (`text`, `integer`, `number`, `boolean`,
`string_list`, `nested`, `section`) through its metadata, and may name its `cdk.json` key when that differs from the
attribute. Defaults are the dataclass's own (written once, where the field is declared): a key absent from
`cdk.json` keeps them. After reading, `read_section` calls the section's `validate(path)` for the rules that are
not about one value's type; `path(key)` names the place the user has to edit.

Plain Python on purpose (no CDK imports): a wrong `cdk.json` fails here, before any construct exists.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Path = Callable[[str], str]


class ConfigError(ValueError):
    """`cdk.json` is wrong. The message is one line: ``cdk.json: <field path>: <what is wrong>``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"cdk.json: {path}: {problem}")
        self.path = path


# ---- field declarations ---------------------------------------------------------------------------------------

Reader = Callable[[Any, str], Any]  # (raw value, field path) -> typed value


def _meta(read: Reader | None, key: str | None, **extra: Any) -> dict[str, Any]:
    return {"read": read, "key": key, **extra}


def text(pattern: re.Pattern[str] | None = None, hint: str = "", *, key: str | None = None) -> dict[str, Any]:
    def read(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(path, f"must be a string{f' ({hint})' if hint else ''}, not {value!r}")
        if pattern is not None and not pattern.fullmatch(value):
            raise ConfigError(path, f"{value!r} is not {hint}")
        return value

    return _meta(read, key)


def integer(*, key: str | None = None) -> dict[str, Any]:
    def read(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"must be an integer, not {value!r}")
        return value

    return _meta(read, key)


def number(*, key: str | None = None) -> dict[str, Any]:
    def read(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, f"must be a number, not {value!r}")
        return float(value)

    return _meta(read, key)


def boolean(*, key: str | None = None) -> dict[str, Any]:
    def read(value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"must be true or false, not {value!r}")
        return value

    return _meta(read, key)


def string_list(*, key: str | None = None) -> dict[str, Any]:
    def read(value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(path, "must be a list of strings")
        return tuple(value)

    return _meta(read, key)


def nested(cls: type, *, key: str | None = None) -> dict[str, Any]:
    """A field whose `cdk.json` value is an object of its own (read as section `cls`, its keys under `key.`)."""

    def read(value: Any, path: str) -> Any:
        raw = mapping(value, path)
        no_unknown_keys(raw, keys_of(cls), f"{path}.")
        return read_section(cls, raw, lambda child: f"{path}.{child}")

    return _meta(read, key)


def section() -> dict[str, Any]:
    """A field that is a whole section read from the same flat mapping as its parent."""
    return _meta(None, None, section=True)


def derived() -> dict[str, Any]:
    """A field that `cdk.json` does not set: the loader fills it in (from another field or the stage)."""
    return _meta(None, None, derived=True)


# ---- reading ------------------------------------------------------------------------------------------------------


def _fields(cls: type) -> Iterator[tuple[dataclasses.Field, str]]:
    for item in dataclasses.fields(cls):
        yield item, item.metadata.get("key") or item.name


def keys_of(cls: type) -> set[str]:
    """Every `cdk.json` key a section (and the sections inside it) reads."""
    keys: set[str] = set()
    for item, key in _fields(cls):
        if item.metadata.get("section"):
            keys |= keys_of(_section_type(cls, item))
        elif not item.metadata.get("derived"):
            keys.add(key)
    return keys


def _section_type(cls: type, item: dataclasses.Field) -> type:
    """The class of a section field (annotations are strings under ``from __future__ import annotations``)."""
    return typing.get_type_hints(cls)[item.name]


def read_section(cls: type, values: Mapping[str, Any], path: Path, **derived_values: Any) -> Any:
    """`cls` read from `values`: every typed field first, then `validate(path)` of the section and then of the
    sections inside it (a rule of the whole, such as "production requires a domain", speaks first)."""
    result, checks = _read(cls, values, path, derived_values)
    for check in checks:
        check(path)
    return result


def _read(cls: type, values: Mapping[str, Any], path: Path, derived_values: Mapping[str, Any]) -> tuple[Any, list]:
    kwargs: dict[str, Any] = dict(derived_values)
    inner: list[Callable[[Path], None]] = []
    for item, key in _fields(cls):
        if item.metadata.get("derived"):
            continue
        if item.metadata.get("section"):
            kwargs[item.name], checks = _read(_section_type(cls, item), values, path, {})
            inner.extend(checks)
            continue
        value = values.get(key)
        if value is None:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ConfigError(path(key), "required")
            continue
        kwargs[item.name] = item.metadata["read"](value, path(key))
    result = cls(**kwargs)
    validate = getattr(result, "validate", None)
    return result, ([validate] if validate is not None else []) + inner


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        raise ConfigError(path, "required")
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be an object, not {type(value).__name__}")
    return value


def no_unknown_keys(value: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in value:
        if key not in known:
            raise ConfigError(f"{prefix}{key}", f"unknown field (known: {', '.join(sorted(known))})")


def defaults_of(cls: type) -> dict[str, Any]:
    """`cdk.json` key -> the value a section uses when the key is absent (None for a required key)."""
    found: dict[str, Any] = {}
    for item, key in _fields(cls):
        if item.metadata.get("section"):
            found |= defaults_of(_section_type(cls, item))
        elif not item.metadata.get("derived"):
            found[key] = None if item.default is dataclasses.MISSING else item.default
    return found
