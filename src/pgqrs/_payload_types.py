"""Typed payloads: dataclasses, pydantic v2 models and msgspec Structs to JSON and back.

Pure code, no I/O. pydantic and msgspec are optional: they are only looked up in `sys.modules`
(an instance or a class of theirs means the library is imported already), never imported here.

- `builtins_of(value)` is the JSON encoder's fallback (`_validation.encode_payload`): plain
  JSON payloads never reach it, so they cost nothing more.
- `decode(payload, payload_type)` builds and validates the declared type from the stored JSON,
  raising `PayloadTypeError` naming the type and the problem. pydantic models and msgspec
  Structs validate themselves; dataclasses are checked here, field by field, for the JSON
  types (str, int, float, bool, None, list, dict, unions, Literal, nested dataclasses; other
  annotations are passed through unchecked).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from typing import Any, TypeVar

from pgqrs import errors

T = TypeVar("T")
_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


class _Mismatch(Exception):
    """A dataclass field does not match its annotation (the message says where and how)."""


def _pydantic_model(kind: type) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(kind, type) and issubclass(kind, pydantic.BaseModel)


def _msgspec_struct(kind: type) -> bool:
    msgspec = sys.modules.get("msgspec")
    return msgspec is not None and isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def builtins_of(value: object) -> Any:
    """Return a typed payload (dataclass instance, pydantic model, msgspec Struct) as JSON values.

    Raises:
        TypeError: `value` is none of those (the JSON encoder reports it as not JSON).
    """
    kind = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Shallow: nested dataclasses come back here through the encoder.
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if _pydantic_model(kind):
        return value.model_dump(mode="json")  # type: ignore[attr-defined]
    if _msgspec_struct(kind):
        return sys.modules["msgspec"].to_builtins(value)
    raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")


def check_payload_type(payload_type: object) -> type:
    """Return `payload_type` if `decode` supports it, else raise `ValidationError`."""
    kinds = (dataclasses.is_dataclass, _pydantic_model, _msgspec_struct)
    if isinstance(payload_type, type) and any(kind(payload_type) for kind in kinds):
        return payload_type
    raise errors.ValidationError(
        f"payload_type must be a dataclass, a pydantic model or a msgspec Struct, not {payload_type!r}"
    )


def decode(payload: Any, payload_type: type[T]) -> T:
    """Return the stored JSON `payload` as a validated `payload_type`.

    Raises:
        PayloadTypeError: It does not validate (the error names the type and the problem).
        ValidationError: `payload_type` is not a supported kind of type.
    """
    check_payload_type(payload_type)
    if _pydantic_model(payload_type):
        pydantic = sys.modules["pydantic"]
        try:
            return payload_type.model_validate(payload)  # type: ignore[attr-defined, no-any-return]
        except pydantic.ValidationError as error:
            raise errors.PayloadTypeError(payload_type, _pydantic_problems(error.errors())) from None
    if _msgspec_struct(payload_type):
        msgspec = sys.modules["msgspec"]
        try:
            return msgspec.convert(payload, payload_type)  # type: ignore[no-any-return]
        except msgspec.ValidationError as error:
            raise errors.PayloadTypeError(payload_type, str(error)) from None
    try:
        return _dataclass_of(payload, payload_type, "$")
    except _Mismatch as error:
        raise errors.PayloadTypeError(payload_type, str(error)) from None


def _pydantic_problems(found: list[dict[str, Any]]) -> str:
    """Return pydantic's errors on one line: `$.field: message`, the first three."""
    problems = [
        "$" + "".join(f".{part}" for part in problem["loc"]) + f": {problem['msg']}" for problem in found
    ]
    return "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")


@functools.lru_cache(maxsize=256)
def _fields(kind: type) -> tuple[dict[str, Any], frozenset[str]]:
    """Return a dataclass's init fields with their resolved annotations, and the required ones."""
    hints = typing.get_type_hints(kind)
    fields = [field for field in dataclasses.fields(kind) if field.init]
    required = frozenset(
        field.name
        for field in fields
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )
    return {field.name: hints.get(field.name, Any) for field in fields}, required


def _dataclass_of(value: Any, kind: type[T], where: str) -> T:
    if not isinstance(value, dict):
        raise _Mismatch(f"{where}: expected an object, got {_json_name(value)}")
    annotations, required = _fields(typing.cast(type, kind))
    unknown = sorted(set(value) - set(annotations))
    if unknown:
        raise _Mismatch(f"{where}: unexpected field {unknown[0]!r}")
    missing = sorted(required - set(value))
    if missing:
        raise _Mismatch(f"{where}: field {missing[0]!r} is missing")
    values = {name: _converted(item, annotations[name], f"{where}.{name}") for name, item in value.items()}
    return kind(**values)


def _converted(value: Any, hint: Any, where: str) -> Any:
    """Return `value` checked against `hint` (converted where JSON has no such type)."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if hint is Any or isinstance(hint, TypeVar):
        return value
    if origin in _UNION_TYPES:
        for argument in arguments:
            try:
                return _converted(value, argument, where)
            except _Mismatch:
                continue
        raise _Mismatch(f"{where}: expected {_hint_name(hint)}, got {_json_name(value)}")
    if origin is typing.Literal:
        if value in arguments:
            return value
        raise _Mismatch(f"{where}: expected one of {list(arguments)!r}, got {value!r}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_of(value, hint, where)
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list):
            raise _Mismatch(f"{where}: expected an array, got {_json_name(value)}")
        item = arguments[0] if arguments else Any
        items = [_converted(element, item, f"{where}[{index}]") for index, element in enumerate(value)]
        return tuple(items) if (origin or hint) is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _Mismatch(f"{where}: expected an object, got {_json_name(value)}")
        item = arguments[1] if len(arguments) == 2 else Any
        return {key: _converted(element, item, f"{where}.{key}") for key, element in value.items()}
    return _scalar(value, hint, where)


def _scalar(value: Any, hint: Any, where: str) -> Any:
    if hint is type(None) or hint is None:
        if value is None:
            return None
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint in (str, bool):
        if isinstance(value, hint):
            return value
    else:
        return value  # an annotation JSON has no type for: not checked
    raise _Mismatch(f"{where}: expected {_hint_name(hint)}, got {_json_name(value)}")


def _hint_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object"})
    return names.get(type(value), type(value).__name__)
