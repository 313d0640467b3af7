"""Declaring routes: one decorator records a route's contract (for OpenAPI) and wraps its view with the
edge's policies: authentication, body/query parsing with pydantic, idempotent POSTs, and mapping typed
errors to problem JSON. A view takes a :class:`Call` and returns a model or a :class:`Reply`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from chalice.app import Blueprint, MultiDict, Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.auth import require_admin
from chalicelib.api.idempotency import require_key
from chalicelib.api.problems import from_validation_error, problem_for, problem_headers, problem_json
from chalicelib.container import Services, get_services
from chalicelib.errors import AboError, MalformedRequestError, ThrottledError, UnsupportedMediaTypeError
from chalicelib.observability import logger

Auth = Literal["admin", "public"]
ModelT = TypeVar("ModelT", bound=BaseModel)
JSON_MEDIA_TYPE = "application/json"
MAX_BODY_BYTES = 1_000_000


class _InternalError(AboError):
    slug = "internal-error"
    status = 500
    title = "Internal error"


@dataclass
class Reply:
    """A response other than a plain 200/201 model: another status, headers or media type."""

    body: BaseModel | dict[str, Any] | list[Any] | bytes | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = JSON_MEDIA_TYPE


@dataclass(frozen=True)
class RouteSpec:
    """A route's contract, as OpenAPI describes it."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    auth: Auth
    status: int
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    response_media_type: str
    idempotent: bool
    problems: tuple[int, ...]


@dataclass
class Call:
    """One request, parsed: path parameters, the validated body and query, and the services."""

    request: Request
    path: dict[str, str]
    services: Services
    parsed_body: BaseModel | None
    parsed_query: BaseModel | None

    def body(self, model: type[ModelT]) -> ModelT:
        """The validated body as ``model``."""
        if not isinstance(self.parsed_body, model):
            raise TypeError(f"route has no {model.__name__} body")
        return self.parsed_body

    def query(self, model: type[ModelT]) -> ModelT:
        """The validated query as ``model``."""
        if not isinstance(self.parsed_query, model):
            raise TypeError(f"route has no {model.__name__} query")
        return self.parsed_query


View = Callable[[Call], BaseModel | Reply]


def _parse_body(spec: RouteSpec, request: Request) -> tuple[BaseModel | None, Any]:
    if spec.body is None:
        return None, None
    raw_body = request.raw_body or b""
    raw = raw_body.encode() if isinstance(raw_body, str) else raw_body
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedRequestError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    media_type = (request.headers.get("content-type") or JSON_MEDIA_TYPE).split(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(f"send {JSON_MEDIA_TYPE}, not {media_type}")
    if not raw.strip():
        raise MalformedRequestError("this route needs a JSON body")
    try:
        parsed = spec.body.model_validate_json(raw)
    except ValidationError as error:
        raise from_validation_error(error, "body") from None
    return parsed, json.loads(raw)


def _parse_query(spec: RouteSpec, request: Request) -> BaseModel | None:
    if spec.query is None:
        return None
    params: MultiDict = request.query_params or MultiDict({})
    values: dict[str, Any] = {}
    for name, info in spec.query.model_fields.items():
        key = info.alias or name
        if key in params:
            many = params.getlist(key)
            values[key] = many if _is_list(info.annotation) else many[-1]
    unknown = sorted(set(params) - {info.alias or name for name, info in spec.query.model_fields.items()})
    if unknown:
        from chalicelib.errors import FieldError, ValidationFailedError

        raise ValidationFailedError(
            "unknown query parameter(s)",
            [FieldError(name, "not a parameter of this route", "unknown", "query") for name in unknown],
        )
    try:
        return spec.query.model_validate(values)
    except ValidationError as error:
        raise from_validation_error(error, "query") from None


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list


def _render(spec: RouteSpec, result: BaseModel | Reply) -> dict[str, Any]:
    reply = result if isinstance(result, Reply) else Reply(result, spec.status)
    body: Any = reply.body
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    if isinstance(body, bytes):
        return {"status": reply.status, "headers": reply.headers, "media_type": reply.media_type, "raw": body}
    return {"status": reply.status, "headers": reply.headers, "media_type": reply.media_type, "json": body}


def _to_response(rendered: Mapping[str, Any]) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": str(rendered["media_type"]), **rendered["headers"]}
    if "raw" in rendered:
        return Response(body=rendered["raw"], status_code=int(rendered["status"]), headers=headers)
    payload = rendered.get("json")
    text = "" if payload is None else json.dumps(payload)
    return Response(body=text, status_code=int(rendered["status"]), headers=headers)


def _problem(error: AboError, request: Request | None, base_url: str) -> Response:
    headers: dict[str, str | list[str]] = {**problem_headers(error)}
    instance = request.path if request is not None else None
    return Response(body=problem_json(error, base_url, instance), status_code=error.status, headers=headers)


class Router:
    """A blueprint plus the contracts of its routes."""

    def __init__(self, name: str, tag: str) -> None:
        self.blueprint = Blueprint(name)
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        auth: Auth = "admin",
        status: int = 200,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        response_media_type: str = JSON_MEDIA_TYPE,
        idempotent: bool = False,
        problems: tuple[int, ...] = (),
    ) -> Callable[[View], View]:
        """Register ``view`` at ``method path`` with its contract. ``idempotent``: the route creates
        something, so it requires an ``Idempotency-Key`` (428 without one) and replays the first response."""

        def register(view: View) -> View:
            spec = RouteSpec(
                method=method.upper(),
                path=path,
                operation_id=view.__name__,
                summary=summary,
                tag=self.tag,
                auth=auth,
                status=status,
                body=body,
                query=query,
                response=response,
                response_media_type=response_media_type,
                idempotent=idempotent,
                problems=problems,
            )
            self.specs.append(spec)

            def endpoint(**path_params: str) -> Response:
                return self._handle(spec, view, path_params)

            endpoint.__name__ = view.__name__
            # '*/*': our own check answers 415 as problem JSON instead of Chalice's error shape.
            # Admin routes get API Gateway's Cognito authorizer in `make package` (infra/package.py), not
            # here: Chalice's local server would try to decode the local bearer token as a JWT.
            self.blueprint.route(path, methods=[spec.method], content_types=["*/*"])(endpoint)
            return view

        return register

    def _handle(self, spec: RouteSpec, view: View, path_params: dict[str, str]) -> Response:
        request: Request | None = self.blueprint.current_request
        base_url = "https://abo.dev/problems/"
        try:
            assert request is not None
            services = get_services()
            base_url = services.settings.problem_base_url
            if spec.auth == "admin":
                require_admin(request.headers, request.context, services.settings)
            # A creating route names its missing key before anything else about the body.
            key = require_key(request.headers.get("idempotency-key")) if spec.idempotent else None
            parsed_body, body_json = _parse_body(spec, request)
            parsed_query = _parse_query(spec, request)
            call = Call(request, path_params, services, parsed_body, parsed_query)
            if key is not None:
                rendered = services.idempotency.run(
                    scope=f"{spec.method} {spec.path} {json.dumps(path_params, sort_keys=True)}",
                    key=key,
                    body=body_json,
                    work=lambda: _render(spec, view(call)),
                )
                return _to_response(rendered)
            return _to_response(_render(spec, view(call)))
        except Exception as error:
            mapped = problem_for(error)
            if mapped is None:
                logger.exception("unhandled error", extra={"route": f"{spec.method} {spec.path}"})
                mapped = _InternalError("an unexpected error occurred")
            elif isinstance(mapped, ThrottledError):
                logger.warning(
                    "throttled", extra={"route": f"{spec.method} {spec.path}", "detail": mapped.detail}
                )
            return _problem(mapped, request, base_url)
