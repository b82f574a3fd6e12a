"""AutoAPI: a JSON REST API from a pydantic model and a queryset, in one line.

    class TodosAPI(AutoAPIBase):
        queries = SQLiteQueryset("data/todos.db")
        model = Todo

    app.register_api(TodosAPI)

routes `{api_base_url}todo/` (GET: list; POST, PUT: write one item or a list)
and `{api_base_url}todo/<ids>/` (GET, POST/PUT: create or update, DELETE), where
`<ids>` is one id or several separated by commas. `{api_base_url}manifest.json`
lists the registered APIs and `{api_base_url}openapi.json` describes them in
OpenAPI 3.1. Owner-only fields (`owner_only()`, or pydantic's `exclude=True`)
are stored but never sent back. The user-facing guide is docs/autoapi.rst.
"""

from __future__ import annotations

import copy
import json
import re
import weakref
from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from .config import ConfigError
from .errors import BadRequest
from .handlers import JSONMessageHandler, to_json
from .queryset.base import AbstractQueryset, FourOhFourException, Status
from .request import Request, parse_json
from .response import Response

if TYPE_CHECKING:
    from .app import Brubeck

OPENAPI_VERSION = "3.1.0"


# -- models -------------------------------------------------------------------------

def owner_only(default: Any = ..., **kwargs: Any) -> Any:
    """A field that is stored but never sent back (a password hash, say).

    Plain pydantic underneath, `Field(exclude=True)` marked `writeOnly` in its
    JSON schema, so models need not import this module to get the same effect.
    """
    extra = {**(kwargs.pop("json_schema_extra", None) or {}), "writeOnly": True}
    return Field(default, exclude=True, json_schema_extra=extra, **kwargs)


@cache
def owner_only_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields kept out of output: `exclude=True`, or marked `writeOnly` in the schema."""
    return frozenset(name for name, field in model.model_fields.items()
                     if field.exclude is True or (isinstance(field.json_schema_extra, dict)
                                                  and field.json_schema_extra.get("writeOnly")))


class APIModel(BaseModel):
    """A convenient base: an `id` that is a fresh UUID unless the client gives one."""

    id: UUID = Field(default_factory=uuid4)


def _field_errors(err: ValidationError, prefix: tuple = ()) -> list[dict[str, Any]]:
    """pydantic's errors as JSON, without the input (it may be a secret) or doc URLs."""
    errors = json.loads(err.json(include_url=False, include_input=False))
    for error in errors:
        error["loc"] = [*prefix, *error["loc"]]
    return errors


class _Invalid(Exception):
    """The request's items or ids failed validation; `errors` says where."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _answers_api_errors(verb: Callable[..., Response]) -> Callable[..., Response]:
    """A missing id is a 404 and invalid input a 400 with its errors, not a server error."""
    @wraps(verb)
    def answering(self: AutoAPIBase, *args: Any, **kwargs: Any) -> Response:
        try:
            return verb(self, *args, **kwargs)
        except FourOhFourException:
            return self.render_error(self._NOT_FOUND)
        except _Invalid as invalid:
            return self.invalid(invalid.errors)
    return answering


# -- the handler --------------------------------------------------------------------

class AutoAPIBase(JSONMessageHandler):
    """CRUD over `queries` for items of `model`; subclass it and set both.

    Replies are Brubeck's JSON payload (`status_code`, `status_msg`, `timestamp`)
    with the items under `data`; a reply about several ids adds `multistatus`,
    one `{id, status, href}` per id. Several ids with different outcomes answer
    207. Invalid input answers 400 with `errors` and writes nothing.
    """

    model: ClassVar[type[BaseModel]]
    queries: ClassVar[AbstractQueryset]

    MULTIPLE_ITEM_SEP = ","
    _PAYLOAD_DATA = "data"
    _PAYLOAD_MULTISTATUS = "multistatus"
    _PAYLOAD_ERRORS = "errors"

    #: The collection URL (`/todo/`); set on the class `register_api` routes.
    url = "/"

    # -- verbs --------------------------------------------------------------------

    @_answers_api_errors
    def get(self, ids: str | None = None) -> Response:
        """No ids: every item. One id: that item or 404. Several: those found."""
        if ids is None:
            return self._reply_list(self.queries.read_all())
        keys = self._parse_ids(ids)
        if len(keys) == 1:
            return self._reply_one(self.queries.read_one(keys[0]))
        return self._reply_many(self.queries.read_many(keys))

    @_answers_api_errors
    def post(self, ids: str | None = None) -> Response:
        """Create (an id is made when none is given) or, at an item URL, create or update."""
        return self._write(ids, ids_required=False)

    @_answers_api_errors
    def put(self, ids: str | None = None) -> Response:
        """Create or update items that carry their ids (in the body or the URL)."""
        return self._write(ids, ids_required=True)

    @_answers_api_errors
    def delete(self, ids: str | None = None) -> Response:
        """Delete the ids in the URL, answering with what was deleted."""
        if ids is None:
            raise BadRequest("Name the ids to delete in the URL")
        keys = self._parse_ids(ids)
        if len(keys) == 1:
            return self._reply_one(self.queries.destroy_one(keys[0]))
        return self._reply_many(self.queries.destroy_many(keys))

    def invalid(self, errors: list[dict[str, Any]]) -> Response:
        """400 listing what was wrong, field by field (item by item for a list)."""
        return self.render_error(self._FAILED_CODE, error_handler=lambda: (
            self.add_to_payload(self._PAYLOAD_ERRORS, errors)))

    # -- input ----------------------------------------------------------------------

    def _body(self) -> list[dict[str, Any]] | dict[str, Any]:
        """The JSON body, or the JSON in a `data=` form field (0.4 accepted both)."""
        message = self.message
        content_type = message.content_type
        if content_type == "application/json" or content_type.endswith("+json"):
            data = message.json
        else:
            field = self.get_argument("data")
            data = parse_json(field, message.limits.json_body) if field else None
        if data is None:
            raise BadRequest("Send the item(s) as a JSON body or as JSON in a data= field")
        if isinstance(data, dict) or (
                isinstance(data, list) and data and all(isinstance(d, dict) for d in data)):
            return data
        raise BadRequest("The body must be an object or a non-empty list of objects")

    def _parse_ids(self, ids: str) -> list[Any]:
        """The URL's ids as the model's id type; any malformed one is a 400."""
        adapter = _id_adapter(self.model, self.queries.api_id)
        keys, errors = [], []
        for index, text in enumerate(ids.split(self.MULTIPLE_ITEM_SEP)):
            try:
                keys.append(adapter.validate_python(text))
            except ValidationError as err:
                errors.extend(_field_errors(err, ("path", "ids", index)))
        if errors:
            raise _Invalid(errors)
        return keys

    def _validate(self, raws: list[dict[str, Any]], url_ids: list[Any] | None,
                  ids_required: bool) -> list[BaseModel]:
        """Every item or none: per-item errors name the item's index (and id, if sent)."""
        api_id = self.queries.api_id
        items: list[BaseModel] = []
        errors: list[dict[str, Any]] = []
        for index, raw in enumerate(raws):
            problems: list[dict[str, Any]] = []
            if url_ids is not None:
                raw = {api_id: url_ids[index], **raw}
            elif ids_required and raw.get(api_id) is None:
                problems.append({"type": "missing", "loc": [api_id],
                                 "msg": "PUT needs each item's id"})
            try:
                item = self.model.model_validate(raw)
            except ValidationError as err:
                problems.extend(_field_errors(err))
            else:
                if url_ids is not None and getattr(item, api_id) != url_ids[index]:
                    problems.append({"type": "id_mismatch", "loc": [api_id],
                                     "msg": "The id in the body is not the id in the URL"})
                items.append(item)
            if problems:
                errors.append({"index": index, "id": _text(raw.get(api_id)),
                               "errors": problems})
        if errors:
            raise _Invalid(errors[0]["errors"] if len(raws) == 1 else errors)
        return items

    def _write(self, ids: str | None, ids_required: bool) -> Response:
        url_ids = self._parse_ids(ids) if ids is not None else None
        body = self._body()
        raws = body if isinstance(body, list) else [body]
        if url_ids is not None and len(url_ids) != len(raws):
            raise BadRequest(f"The URL names {len(url_ids)} id(s) but the body holds "
                             f"{len(raws)} item(s)")
        items = self._validate(raws, url_ids, ids_required)
        if isinstance(body, dict):
            return self._reply_one(self.queries.create_one(items[0]) if url_ids is None
                                   else self.queries.update_one(items[0]))
        statuses = (self.queries.create_many(items) if url_ids is None
                    else self.queries.update_many(items))
        return self._reply_many(statuses)

    # -- output ---------------------------------------------------------------------

    _HTTP_STATUS = {
        AbstractQueryset.MSG_OK: 200,
        AbstractQueryset.MSG_UPDATED: 200,
        AbstractQueryset.MSG_CREATED: 201,
        AbstractQueryset.MSG_NOTFOUND: 404,
        AbstractQueryset.MSG_FAILED: 400,
    }

    def present(self, item: BaseModel) -> dict[str, Any]:
        """An item as sent to clients: the model's own JSON, owner-only fields left out."""
        return item.model_dump(mode="json", exclude=set(owner_only_fields(type(item))))

    def href(self, iid: Any) -> str:
        return f"{self.url}{iid}/"

    def _reply_one(self, status: Status) -> Response:
        crud_status, item = status
        self.add_to_payload(self._PAYLOAD_DATA, self.present(item))
        return self.render(status_code=self._HTTP_STATUS[crud_status])

    def _reply_list(self, statuses: list[Status]) -> Response:
        self.add_to_payload(self._PAYLOAD_DATA, [self.present(item) for _, item in statuses])
        return self.render(status_code=self._SUCCESS_CODE)

    def _reply_many(self, statuses: list[Status]) -> Response:
        api_id = self.queries.api_id
        found = [(s, item) for s, item in statuses if isinstance(item, BaseModel)]
        report: list[dict[str, Any]] = []
        for crud_status, item in statuses:
            iid = getattr(item, api_id) if isinstance(item, BaseModel) else item
            report.append({"id": str(iid), "status": self._HTTP_STATUS[crud_status],
                           "href": self.href(iid)})
        codes = {entry["status"] for entry in report}
        self.add_to_payload(self._PAYLOAD_DATA, [self.present(item) for _, item in found])
        self.add_to_payload(self._PAYLOAD_MULTISTATUS, report)
        return self.render(status_code=codes.pop() if len(codes) == 1 else self._MULTI_CODE)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@cache
def _id_adapter(model: type[BaseModel], api_id: str) -> TypeAdapter:
    field = model.model_fields[api_id]
    # Any: pydantic types field.annotation as `type | None`, Annotated[...] is a special form
    annotation: Any = Annotated[tuple([field.annotation, *field.metadata])] if field.metadata \
        else field.annotation
    return TypeAdapter(annotation)


# -- registration, manifest and OpenAPI ------------------------------------------------

class ApiRegistry:
    """The APIs registered on one app; also answers the manifest and OpenAPI routes."""

    title = "Brubeck AutoAPI"
    version = "1.0.0"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.apis: dict[str, type[AutoAPIBase]] = {}  # collection URL -> routed class

    def add(self, api: type[AutoAPIBase]) -> None:
        if api.url in self.apis:
            raise ConfigError(f"an API is already registered at {api.url}")
        self.apis[api.url] = api

    def manifest(self, application: Brubeck, message: Request) -> Response:
        listing = [{"name": _model_name(api.model), "url": url,
                    "schema": public_schema(api.model)} for url, api in self.apis.items()]
        return _json_response(listing)

    def openapi(self, application: Brubeck, message: Request) -> Response:
        return _json_response(openapi_document(self.apis, self.title, self.version))


_registries: weakref.WeakKeyDictionary[Any, ApiRegistry] = weakref.WeakKeyDictionary()


def api_registry(app: Brubeck) -> ApiRegistry | None:
    """The app's registered APIs, if `register_api` was ever called on it."""
    return _registries.get(app)


def register_api(app: Brubeck, api_class: type[AutoAPIBase], prefix: str | None = None
                 ) -> type[AutoAPIBase]:
    """Route `api_class` at `prefix` (default `{api_base_url}{model name}`); see the module doc.

    Returns the handler class actually routed: a subclass knowing its URL, so one
    API class may be registered under several prefixes.
    """
    if not (isinstance(api_class, type) and issubclass(api_class, AutoAPIBase)):
        raise ConfigError(f"register_api needs an AutoAPIBase subclass, not {api_class!r}")
    model = getattr(api_class, "model", None)
    queries = getattr(api_class, "queries", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(f"{api_class.__name__}.model must be a pydantic model")
    if not isinstance(queries, AbstractQueryset):
        raise ConfigError(f"{api_class.__name__}.queries must be a queryset")
    try:
        queries.bind(model, app.backend)
    except ValueError as error:
        raise ConfigError(str(error)) from None

    base = app.api_base_url if app.api_base_url.endswith("/") else app.api_base_url + "/"
    registry = _registries.get(app)
    if registry is None:
        registry = _registries[app] = ApiRegistry(base)
        app.add_route_rule(f"^{re.escape(base)}manifest\\.json$", registry.manifest, "GET")
        app.add_route_rule(f"^{re.escape(base)}openapi\\.json$", registry.openapi, "GET")

    root = (prefix if prefix is not None else base + _model_name(model)).rstrip("/")
    routed = type(api_class.__name__, (api_class,), {"url": root + "/",
                                                    "__module__": api_class.__module__})
    registry.add(routed)
    app.add_route_rule(f"^{re.escape(root)}(?:/(?P<ids>[^/]+))?/?$", routed)
    return routed


def _model_name(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _json_response(value: Any) -> Response:
    return Response(to_json(value), 200, None, {"Content-Type": "application/json"})


def public_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of items as sent: serialization mode, owner-only fields removed."""
    return _strip(model.model_json_schema(mode="serialization"), owner_only_fields(model))


def _strip(schema: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    if not hidden:
        return schema
    schema = copy.deepcopy(schema)
    for name in hidden:
        schema.get("properties", {}).pop(name, None)
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in hidden]
    return schema


# -- the OpenAPI document ---------------------------------------------------------------

_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _envelope(data: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "status_code": {"type": "integer"},
        "status_msg": {"type": "string"},
        "timestamp": {"type": "integer", "description": "milliseconds since the epoch"},
    }
    if data is not None:
        properties["data"] = data
        properties["multistatus"] = {"type": "array", "items": _ref("ItemStatus")}
    return {"type": "object", "properties": properties,
            "required": ["status_code", "status_msg"]}


_SHARED_SCHEMAS: dict[str, Any] = {
    "ItemStatus": {
        "type": "object",
        "description": "The outcome for one id of a request about several.",
        "properties": {"id": {"type": "string"}, "status": {"type": "integer"},
                       "href": {"type": "string"}},
        "required": ["id", "status", "href"],
    },
    "Error": {**_envelope(), "properties": {
        **_envelope()["properties"],
        "errors": {"type": "array", "items": {"type": "object"},
                   "description": "Field errors; for a list body, one entry per invalid "
                                  "item with its `index`."}}},
}

_ERRORS = {
    "400": "Malformed JSON, a malformed id, or invalid items (nothing was written)",
    "404": "No item has this id",
    "413": "The body is over the JSON size limit",
}


def _error_responses(*codes: str) -> dict[str, Any]:
    return {code: {"description": _ERRORS[code], "content": _json_content(_ref("Error"))}
            for code in codes}


def _operations(name: str, item_in: dict, item_out: dict) -> dict[str, dict[str, Any]]:
    """The path items of one API: the collection and its items."""
    one_or_many_in = {"oneOf": [item_in, {"type": "array", "items": item_in, "minItems": 1}]}
    body = {"required": True, "content": {
        **_json_content(one_or_many_in),
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["data"],
            "properties": {"data": {"type": "string", "description": "the JSON body, as text"}},
        }},
    }}
    many = _json_content(_envelope({"type": "array", "items": item_out}))
    either = _json_content(_envelope({"oneOf": [item_out, {"type": "array", "items": item_out}]}))
    written = {
        "200": {"description": "Updated", "content": either},
        "201": {"description": "Created", "content": either},
        "207": {"description": "Some items created, some updated (see multistatus)",
                "content": many},
    }
    ids = {"name": "ids", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "One id, or several separated by commas"}
    collection = {
        "get": {"operationId": f"list_{name}", "summary": f"Every {name}",
                "responses": {"200": {"description": "The items", "content": many}}},
        "post": {"operationId": f"create_{name}",
                 "summary": f"Create one {name} or a list (ids are made when not given)",
                 "requestBody": body,
                 "responses": {**written, **_error_responses("400", "413")}},
        "put": {"operationId": f"put_{name}_list",
                "summary": f"Create or update a list of {name} items, each with its id",
                "requestBody": body,
                "responses": {**written, **_error_responses("400", "413")}},
    }
    items = {
        "parameters": [ids],
        "get": {"operationId": f"read_{name}", "summary": f"Read {name} items by id",
                "responses": {"200": {"description": "Found", "content": either},
                              "207": {"description": "Some ids found", "content": many},
                              **_error_responses("400", "404")}},
        "post": {"operationId": f"write_{name}",
                 "summary": f"Create or update the {name} items with these ids",
                 "requestBody": body,
                 "responses": {**written, **_error_responses("400", "413")}},
        "put": {"operationId": f"put_{name}",
                "summary": f"Create or update the {name} items with these ids",
                "requestBody": body,
                "responses": {**written, **_error_responses("400", "413")}},
        "delete": {"operationId": f"delete_{name}", "summary": f"Delete {name} items by id",
                   "responses": {"200": {"description": "Deleted", "content": either},
                                 "207": {"description": "Some ids deleted", "content": many},
                                 **_error_responses("400", "404")}},
    }
    return {"collection": collection, "items": items}


def openapi_document(apis: dict[str, type[AutoAPIBase]], title: str = ApiRegistry.title,
                     version: str = ApiRegistry.version) -> dict[str, Any]:
    """OpenAPI 3.1 for the registered APIs: models as components, two paths per API."""
    models = [api.model for api in apis.values()]
    refs, defs = models_json_schema(
        [(m, "validation") for m in models] + [(m, "serialization") for m in models],
        ref_template=_REF)
    schemas: dict[str, Any] = {**defs.get("$defs", {}), **_SHARED_SCHEMAS}
    paths: dict[str, Any] = {}
    for url, api in apis.items():
        model = api.model
        item_in = refs[(model, "validation")]
        item_out = refs[(model, "serialization")]
        hidden = owner_only_fields(model)
        if hidden:
            public = f"{model.__name__}Public"
            schemas[public] = _strip(schemas[item_out["$ref"].rsplit("/", 1)[1]], hidden)
            item_out = _ref(public)
        operations = _operations(_model_name(model), item_in, item_out)
        paths[url] = operations["collection"]
        paths[url + "{ids}/"] = operations["items"]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


__all__ = ["APIModel", "ApiRegistry", "AutoAPIBase", "FourOhFourException", "api_registry",
           "openapi_document", "owner_only", "owner_only_fields", "public_schema",
           "register_api"]
