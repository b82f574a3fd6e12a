"""Field markers for models served over an API: which fields clients may set, and see.

Both are plain pydantic metadata (JSON schema `readOnly` / `writeOnly`), so a
model can be marked without importing Brubeck, and OpenAPI readers see them:

    class Account(APIModel):
        name: str
        role: str = read_only("member")        # clients see it, only the server sets it
        password_hash: str = owner_only("")    # clients set it, never see it
        api_key: str = read_only("", exclude=True)  # neither: the server's alone
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, Field


def _marked(field: Any, keyword: str) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(keyword))


def owner_only(default: Any = ..., **kwargs: Any) -> Any:
    """A field that is stored but never sent back (a password hash, say).

    Plain pydantic underneath, `Field(exclude=True)` marked `writeOnly` in its
    JSON schema, so models need not import this module to get the same effect.
    An update that leaves it out keeps the stored value.
    """
    extra = {**(kwargs.pop("json_schema_extra", None) or {}), "writeOnly": True}
    return Field(default, exclude=True, json_schema_extra=extra, **kwargs)


def read_only(default: Any = ..., **kwargs: Any) -> Any:
    """A field only the server sets (an owner, a role): values clients send are ignored.

    `Field(...)` marked `readOnly` in its JSON schema. It keeps its stored value
    on update and its default on create, unless the API's `server_values()`
    supplies one. Add `exclude=True` to keep it from clients' sight as well.
    """
    extra = {**(kwargs.pop("json_schema_extra", None) or {}), "readOnly": True}
    return Field(default, json_schema_extra=extra, **kwargs)


@cache
def owner_only_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields kept out of output: `exclude=True`, or marked `writeOnly` in the schema."""
    return frozenset(name for name, field in model.model_fields.items()
                     if field.exclude is True or _marked(field, "writeOnly"))


@cache
def read_only_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields clients may not set: marked `readOnly` in the schema."""
    return frozenset(name for name, field in model.model_fields.items()
                     if _marked(field, "readOnly"))


@cache
def input_keys(model: type[BaseModel], name: str) -> frozenset[str]:
    """Every key under which input may carry field `name`: its name and its aliases."""
    field = model.model_fields[name]
    keys = {name, field.alias}
    alias = field.validation_alias
    for choice in getattr(alias, "choices", [alias]):  # AliasChoices, or one alias
        path = getattr(choice, "path", [choice])  # AliasPath: its first key is top level
        keys.add(path[0] if path else None)
    return frozenset(key for key in keys if isinstance(key, str))


__all__ = ["input_keys", "owner_only", "owner_only_fields", "read_only", "read_only_fields"]
