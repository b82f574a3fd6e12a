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
are stored but never sent back; read-only fields (`read_only()`) are never
taken from clients. `authorize(action, item)` decides who may do what; by
default anyone may do anything, as in 0.4, and `register_api` warns about it.
The user-facing guide is docs/autoapi.rst.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import weakref
from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast
from uuid import UUID, uuid4

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from .config import ConfigError
from .errors import BadRequest, InvalidFields, RequestTooLarge, reason_phrase
from .fields import input_keys, owner_only, owner_only_fields, read_only, read_only_fields
from .handlers import JSONMessageHandler, to_json
from .queryset.base import AbstractQueryset, ConflictException, FourOhFourException, Status
from .request import Request, parse_json
from .response import Response

if TYPE_CHECKING:
    from .app import Brubeck

OPENAPI_VERSION = "3.1.0"
log = logging.getLogger("brubeck.autoapi")

#: What `authorize(action, item)` may be asked.
ACTIONS = ("list", "read", "create", "update", "delete")
#: Items on a page of a list when neither the API nor the app says (`autoapi_page_size`).
DEFAULT_PAGE_SIZE = 100
#: Most items one request may write, name or get when neither says (`autoapi_max_items`).
DEFAULT_MAX_ITEMS = 1000
_MAX_COUNT_DIGITS = 18  # offsets and limits fit SQLite's 64-bit integers


# -- models -------------------------------------------------------------------------

class APIModel(BaseModel):
    """A convenient base: an `id` that is a fresh UUID unless the client gives one."""

    id: UUID = Field(default_factory=uuid4)


def _field_errors(err: ValidationError, prefix: tuple[str | int, ...] = ()
                  ) -> list[dict[str, Any]]:
    """pydantic's errors as JSON, without the input (it may be a secret) or doc URLs."""
    errors: list[dict[str, Any]] = json.loads(err.json(include_url=False,
                                                       include_input=False))
    for error in errors:
        error["loc"] = [*prefix, *error["loc"]]
    return errors


class _Refused(Exception):
    """`authorize` said no."""


def _answers_api_errors(verb: Callable[..., Response]) -> Callable[..., Response]:
    """A missing id (404), a refusal (401/403) and a taken id (409) are answers to the
    client, written by `write_error`, not failures to log. Invalid input raises
    `InvalidFields`, which the handlers' error funnel answers (400)."""
    @wraps(verb)
    def answering(self: AutoAPIBase, *args: Any, **kwargs: Any) -> Response:
        try:
            return verb(self, *args, **kwargs)
        except FourOhFourException:
            return cast(Response, self.write_error(self._NOT_FOUND))
        except _Refused:
            return self.refuse()
        except ConflictException as conflict:
            return self.conflict(conflict.ids)
    return answering


# -- the handler --------------------------------------------------------------------

class AutoAPIBase(JSONMessageHandler):
    """CRUD over `queries` for items of `model`; subclass it and set both.

    Replies are Brubeck's JSON payload (`status_code`, `status_msg`, `timestamp`)
    with the items under `data`; a reply about several ids adds `multistatus`,
    one `{id, status, href}` per id, and a list adds `paging`. Several ids with
    different outcomes answer 207. Invalid input answers 400 with `errors`, a
    refusal 401 or 403, a POST of a taken id 409; none of them writes anything.
    `render(hide_status=True)` sends only `data`, each item then carrying its
    own `status_code` and `status_msg`, as in 0.4 (a model field of that name wins).
    """

    model: ClassVar[type[BaseModel]]
    queries: ClassVar[AbstractQueryset[Any]]

    #: Items on a page of a list without `limit=` (None: the app's `autoapi_page_size`, else 100).
    page_size: ClassVar[int | None] = None
    #: Most items one request may write, name in its URL or list: 413 past it
    #: (None: the app's `autoapi_max_items`, else 1000).
    max_items: ClassVar[int | None] = None
    #: Whether users log in by cookie, so that a form-encoded write (which any site
    #: can make a browser send, cookie included) must carry the XSRF token. None:
    #: when `authorize` is overridden. JSON writes never need it: a browser sends
    #: JSON across sites only after a CORS preflight that Brubeck does not answer.
    cookie_auth: ClassVar[bool | None] = None

    MULTIPLE_ITEM_SEP = ","
    _PAYLOAD_DATA = "data"
    _PAYLOAD_MULTISTATUS = "multistatus"
    _PAYLOAD_ERRORS = "errors"
    _PAYLOAD_PAGING = "paging"
    _PAYLOAD_CONFLICTS = "conflicts"

    #: The collection URL (`/todo/`); set on the class `register_api` routes.
    url = "/"

    # -- the hooks to override ------------------------------------------------------

    def authorize(self, action: str, item: BaseModel | None) -> bool:
        """May this request do `action` ('list', 'read', 'create', 'update', 'delete')?

        Asked first with `item` None (may this client do that at all?), then for
        each item: the stored one to read, update or delete, the new one to create.
        A list shows only the items `authorize('read', item)` allows. False
        answers 401 without a `current_user`, else 403, and nothing is written;
        raise `HTTPError` to answer otherwise (404 to hide that an item exists).
        The default allows everything, as 0.4 did: `register_api` warns about it.
        """
        return True

    def server_values(self, action: str, stored: BaseModel | None) -> dict[str, Any]:
        """Values the server gives read-only fields on 'create' or 'update' (of `stored`).

        Fields not named keep their stored value on update, their default on create.
        """
        return {}

    @property
    def page_limit(self) -> int:
        size = self.page_size or int(getattr(self.application, "autoapi_page_size",
                                             DEFAULT_PAGE_SIZE))
        return min(size, self.item_limit)

    @property
    def item_limit(self) -> int:
        return self.max_items or int(getattr(self.application, "autoapi_max_items",
                                             DEFAULT_MAX_ITEMS))

    # -- verbs --------------------------------------------------------------------

    @_answers_api_errors
    def get(self, ids: str | None = None) -> Response:
        """No ids: a page of items. One id: that item or 404. Several: those found."""
        if ids is None:
            self._allow("list")
            offset, limit = self._paging()
            page = self.queries.read_page(offset, limit)
            shown = [status for status in page if self.authorize("read", status[1])]
            return self._reply_list(shown, offset, limit, more=len(page) == limit)
        self._allow("read")
        keys = self._parse_ids(ids)
        if len(keys) == 1:
            status = self.queries.read_one(keys[0])
            self._allow("read", status[1])
            return self._reply_one(status)
        statuses = self.queries.read_many(keys)
        self._allow_found("read", statuses)
        return self._reply_many(statuses)

    @_answers_api_errors
    def post(self, ids: str | None = None) -> Response:
        """To the collection: create (409 if an id is taken). To item URLs: create or update."""
        return self._write(ids, ids_required=False, create_only=ids is None)

    @_answers_api_errors
    def put(self, ids: str | None = None) -> Response:
        """Create or update items that carry their ids (in the body or the URL)."""
        return self._write(ids, ids_required=True, create_only=False)

    @_answers_api_errors
    def delete(self, ids: str | None = None) -> Response:
        """Delete the ids in the URL, answering with what was deleted."""
        self._allow("delete")
        if ids is None:
            raise BadRequest("Name the ids to delete in the URL")
        keys = self._parse_ids(ids)
        self._allow_found("delete", self.queries.read_many(keys))
        if len(keys) == 1:
            return self._reply_one(self.queries.destroy_one(keys[0]))
        return self._reply_many(self.queries.destroy_many(keys))

    # -- refusals -------------------------------------------------------------------

    def invalid(self, errors: list[dict[str, Any]]) -> Response:
        """400 listing what was wrong, field by field (item by item for a list)."""
        return cast(Response, self.write_error(self._FAILED_CODE, InvalidFields(errors)))

    def refuse(self) -> Response:
        """401 without a `current_user` (the handler's `auth_error()` if it has one), else 403."""
        if getattr(self, "current_user", None) is None:
            hook = getattr(self, "auth_error", None)
            return cast(Response, hook() if hook is not None
                        else self.write_error(self._AUTH_FAILURE))
        return cast(Response, self.write_error(self._FORBIDDEN))

    def conflict(self, ids: list[Any]) -> Response:
        """409 naming the ids a create found taken; PUT is the way to replace an item."""
        def name_them() -> None:
            self.add_to_payload(self._PAYLOAD_CONFLICTS, [str(iid) for iid in ids])

        return cast(Response, self.write_error(409, error_handler=name_them))

    def _allow(self, action: str, item: BaseModel | None = None) -> None:
        if not self.authorize(action, item):
            raise _Refused(action)

    def _allow_found(self, action: str, statuses: list[Status]) -> None:
        for _, item in statuses:
            if isinstance(item, BaseModel):
                self._allow(action, item)

    # -- input ----------------------------------------------------------------------

    def _body(self) -> list[dict[str, Any]] | dict[str, Any]:
        """The JSON body, or the JSON in a `data=` form field (0.4 accepted both)."""
        message = self.message
        content_type = message.content_type
        if content_type == "application/json" or content_type.endswith("+json"):
            data = message.json
        else:
            if self._form_writes_need_xsrf():
                self.check_xsrf_cookie()
            field = self.get_argument("data")
            data = parse_json(field, message.limits.json_body) if field else None
        if data is None:
            raise BadRequest("Send the item(s) as a JSON body or as JSON in a data= field")
        if isinstance(data, dict) or (
                isinstance(data, list) and data and all(isinstance(d, dict) for d in data)):
            self._check_count(1 if isinstance(data, dict) else len(data))
            return data
        raise BadRequest("The body must be an object or a non-empty list of objects")

    def _form_writes_need_xsrf(self) -> bool:
        if getattr(self.application, "xsrf_cookies", False):
            return False  # the handler checked every unsafe method already
        cookie_auth = type(self).cookie_auth
        return _overrides_authorize(type(self)) if cookie_auth is None else cookie_auth

    def _check_count(self, count: int) -> None:
        if count > self.item_limit:
            raise RequestTooLarge(f"At most {self.item_limit} items per request")

    def _paging(self) -> tuple[int, int]:
        offset = _count(self.get_argument("offset"), "offset", 0, minimum=0)
        limit = _count(self.get_argument("limit"), "limit", self.page_limit, minimum=1)
        return offset, min(limit, self.item_limit)

    def _parse_ids(self, ids: str) -> list[Any]:
        """The URL's ids as the model's id type; any malformed one is a 400."""
        texts = ids.split(self.MULTIPLE_ITEM_SEP)
        self._check_count(len(texts))
        adapter = _id_adapter(self.model, self.queries.api_id)
        keys, errors = [], []
        for index, text in enumerate(texts):
            try:
                keys.append(adapter.validate_python(text))
            except ValidationError as err:
                errors.extend(_field_errors(err, ("path", "ids", index)))
        if errors:
            raise InvalidFields(errors)
        return keys

    def _body_ids(self, raws: list[dict[str, Any]]) -> list[Any]:
        """Each item's id as sent, or None (absent or malformed: validation says which)."""
        adapter = _id_adapter(self.model, self.queries.api_id)
        names = input_keys(self.model, self.queries.api_id)
        keys: list[Any] = []
        for raw in raws:
            sent = next((raw[name] for name in names if raw.get(name) is not None), None)
            try:
                keys.append(None if sent is None else adapter.validate_python(sent))
            except ValidationError:
                keys.append(None)
        return keys

    def _client_fields(self, raw: dict[str, Any], stored: BaseModel | None, action: str
                       ) -> dict[str, Any]:
        """What the client may set, over what it may not: read-only fields from the
        store (or the server), owner-only ones it left out from the store."""
        model = self.model
        protected = read_only_fields(model)
        merged = {key: value for key, value in raw.items()
                  if not any(key in input_keys(model, name) for name in protected)}
        if stored is not None:
            for name in owner_only_fields(model) | protected:
                keys = input_keys(model, name)
                if name in protected or not keys & raw.keys():
                    merged[_input_key(model, name)] = getattr(stored, name)
        for name, value in self.server_values(action, stored).items():
            if name not in protected:
                raise ValueError(f"server_values() may set read-only fields only, not {name!r}")
            merged[_input_key(model, name)] = value
        return merged

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
            raise InvalidFields(errors[0]["errors"] if len(raws) == 1 else errors)
        return items

    def _write(self, ids: str | None, ids_required: bool, create_only: bool) -> Response:
        """Authorize, merge with what is stored, validate, then write all or nothing."""
        if not (self.authorize("create", None) or
                (not create_only and self.authorize("update", None))):
            raise _Refused("write")
        url_ids = self._parse_ids(ids) if ids is not None else None
        body = self._body()
        raws = body if isinstance(body, list) else [body]
        if url_ids is not None and len(url_ids) != len(raws):
            raise BadRequest(f"The URL names {len(url_ids)} id(s) but the body holds "
                             f"{len(raws)} item(s)")
        if create_only:
            stored: list[BaseModel | None] = [None] * len(raws)
        else:
            keys = url_ids if url_ids is not None else self._body_ids(raws)
            found = dict(zip((str(k) for k in keys if k is not None), self._read_items(
                [k for k in keys if k is not None]), strict=True))
            stored = [found.get(str(key)) if key is not None else None for key in keys]
        actions = ["create" if old is None else "update" for old in stored]
        for action in set(actions):
            self._allow(action)
        for old in stored:
            if old is not None:
                self._allow("update", old)
        merged = [self._client_fields(raw, old, action)
                  for raw, old, action in zip(raws, stored, actions, strict=True)]
        items = self._validate(merged, url_ids, ids_required)
        for item, action in zip(items, actions, strict=True):
            if action == "create":
                self._allow("create", item)
        if create_only:
            statuses = self.queries.insert_many(items)
        else:
            statuses = self.queries.update_many(items)
        if isinstance(body, dict):
            return self._reply_one(statuses[0])
        return self._reply_many(statuses)

    def _read_items(self, keys: list[Any]) -> list[BaseModel | None]:
        if not keys:
            return []
        return [item if status == AbstractQueryset.MSG_OK else None
                for status, item in self.queries.read_many(keys)]

    # -- output ---------------------------------------------------------------------

    _HTTP_STATUS: ClassVar[dict[str, int]] = {
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

    def render(self, status_code: int | None = None, *, hide_status: bool = False,
               **kwargs: Any) -> Response:
        """As `JSONMessageHandler.render`; with `hide_status`, status goes into each item."""
        if hide_status:
            self._stamp_items()
        return super().render(status_code, hide_status=hide_status, **kwargs)

    def _stamp_items(self) -> None:
        """Give each item of `data` its own status_code and status_msg (0.4's shape)."""
        data = self._payload.get(self._PAYLOAD_DATA)
        codes = getattr(self, "_item_codes", ())
        items = data if isinstance(data, list) else [data]
        for item, code in zip(items, codes, strict=False):
            if isinstance(item, dict):
                item.setdefault(self._STATUS_CODE, code)
                item.setdefault(self._STATUS_MSG,
                                self._response_codes.get(code) or reason_phrase(code))

    def _reply_one(self, status: Status) -> Response:
        crud_status, item = status
        self._item_codes = [self._HTTP_STATUS[crud_status]]
        self.add_to_payload(self._PAYLOAD_DATA, self.present(item))
        return self.render(status_code=self._HTTP_STATUS[crud_status])

    def _reply_list(self, statuses: list[Status], offset: int, limit: int,
                    more: bool) -> Response:
        self._item_codes = [self._SUCCESS_CODE] * len(statuses)
        self.add_to_payload(self._PAYLOAD_DATA, [self.present(item) for _, item in statuses])
        following = f"{self.url}?offset={offset + limit}&limit={limit}" if more else None
        self.add_to_payload(self._PAYLOAD_PAGING,
                            {"offset": offset, "limit": limit, "next": following})
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
        self._item_codes = [self._HTTP_STATUS[crud_status] for crud_status, _ in found]
        self.add_to_payload(self._PAYLOAD_DATA, [self.present(item) for _, item in found])
        self.add_to_payload(self._PAYLOAD_MULTISTATUS, report)
        return self.render(status_code=codes.pop() if len(codes) == 1 else self._MULTI_CODE)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _count(text: str | None, name: str, default: int, minimum: int) -> int:
    """A whole number from the query string (`offset`, `limit`), or 400 saying why not."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_COUNT_DIGITS or \
            int(text) < minimum:
        raise BadRequest(f"{name} must be a whole number of at least {minimum}")
    return int(text)


def _overrides_authorize(api: type[AutoAPIBase]) -> bool:
    return api.authorize is not AutoAPIBase.authorize


def _input_key(model: type[BaseModel], name: str) -> str:
    """The key validation reads field `name` from (its validation alias when a string)."""
    field = model.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    choices = [c for c in getattr(alias, "choices", ()) if isinstance(c, str)]
    return choices[0] if choices else field.alias or name


@cache
def _id_adapter(model: type[BaseModel], api_id: str) -> TypeAdapter[Any]:
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
    if not _overrides_authorize(routed):
        log.warning("%s at %s lets anyone create, update and delete its items (0.4's "
                    "AutoAPI): override authorize() to require a login", api_class.__name__,
                    root + "/")
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
                                  "item with its `index`."},
        "conflicts": {"type": "array", "items": {"type": "string"},
                      "description": "409: the ids already taken."}}},
    "Paging": {
        "type": "object",
        "description": "Where this page of a list starts, its size, and the next page's URL "
                       "(null after the last). A page may hold fewer items than `limit` "
                       "when some are not this client's to read.",
        "properties": {"offset": {"type": "integer"}, "limit": {"type": "integer"},
                       "next": {"type": ["string", "null"]}},
        "required": ["offset", "limit", "next"],
    },
}

_ERRORS = {
    "400": "Malformed JSON, a malformed id, bad paging, or invalid items (nothing was written)",
    "401": "No user is logged in, and authorize() wants one",
    "403": "This user may not do this, or a form-encoded write lacks the XSRF token",
    "404": "No item has this id",
    "409": "An id is already taken: POST to the collection only creates (nothing was written)",
    "413": "The body is over the JSON size limit, or holds or names more items than max_items",
}
_REFUSALS = ("401", "403")


def _error_responses(*codes: str) -> dict[str, Any]:
    return {code: {"description": _ERRORS[code], "content": _json_content(_ref("Error"))}
            for code in codes}


def _operations(name: str, item_in: dict[str, Any], item_out: dict[str, Any]
                ) -> dict[str, dict[str, Any]]:
    """The path items of one API: the collection and its items."""
    one_or_many_in = {"oneOf": [item_in, {"type": "array", "items": item_in, "minItems": 1}]}
    body = {"required": True, "content": {
        **_json_content(one_or_many_in),
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["data"],
            "properties": {"data": {"type": "string", "description": "the JSON body, as text"},
                           "_xsrf": {"type": "string", "description":
                                     "the XSRF token, when the API's users log in by cookie"}},
        }},
    }}
    many = _json_content(_envelope({"type": "array", "items": item_out}))
    either = _json_content(_envelope({"oneOf": [item_out, {"type": "array", "items": item_out}]}))
    page = _envelope({"type": "array", "items": item_out})
    page["properties"]["paging"] = _ref("Paging")
    written = {
        "200": {"description": "Updated", "content": either},
        "201": {"description": "Created", "content": either},
        "207": {"description": "Some items created, some updated (see multistatus)",
                "content": many},
    }
    ids = {"name": "ids", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "One id, or several separated by commas"}
    paging = [
        {"name": "offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "default": 0},
         "description": "Items to skip"},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1},
         "description": "Items on the page (default and cap set by the server)"},
    ]
    collection = {
        "get": {"operationId": f"list_{name}", "summary": f"A page of {name} items",
                "parameters": paging,
                "responses": {"200": {"description": "The items this client may read",
                                      "content": _json_content(page)},
                              **_error_responses("400", *_REFUSALS)}},
        "post": {"operationId": f"create_{name}",
                 "summary": f"Create one {name} or a list (ids are made when not given)",
                 "requestBody": body,
                 "responses": {"201": written["201"],
                               **_error_responses("400", *_REFUSALS, "409", "413")}},
        "put": {"operationId": f"put_{name}_list",
                "summary": f"Create or update a list of {name} items, each with its id",
                "requestBody": body,
                "responses": {**written, **_error_responses("400", *_REFUSALS, "413")}},
    }
    items = {
        "parameters": [ids],
        "get": {"operationId": f"read_{name}", "summary": f"Read {name} items by id",
                "responses": {"200": {"description": "Found", "content": either},
                              "207": {"description": "Some ids found", "content": many},
                              **_error_responses("400", *_REFUSALS, "404", "413")}},
        "post": {"operationId": f"write_{name}",
                 "summary": f"Create or update the {name} items with these ids",
                 "requestBody": body,
                 "responses": {**written, **_error_responses("400", *_REFUSALS, "413")}},
        "put": {"operationId": f"put_{name}",
                "summary": f"Create or update the {name} items with these ids",
                "requestBody": body,
                "responses": {**written, **_error_responses("400", *_REFUSALS, "413")}},
        "delete": {"operationId": f"delete_{name}", "summary": f"Delete {name} items by id",
                   "responses": {"200": {"description": "Deleted", "content": either},
                                 "207": {"description": "Some ids deleted", "content": many},
                                 **_error_responses("400", *_REFUSALS, "404", "413")}},
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


__all__ = ["ACTIONS", "APIModel", "ApiRegistry", "AutoAPIBase", "ConflictException",
           "FourOhFourException", "api_registry", "openapi_document", "owner_only",
           "owner_only_fields", "public_schema", "read_only", "read_only_fields", "register_api"]
