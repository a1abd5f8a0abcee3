"""The FastAPI app: validates, authenticates, forwards to `ServeEngine`, shapes the answers.

Every error is one OpenAI-shaped JSON object (`{"error": {"message", "type", "param",
"code"}}`) with a one-line message; an unexpected exception is logged on the server and
answered with a 500 that carries no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from saess.serve.engine import Completion, Job, ServeEngine
from saess.serve.protocol import (
    APIError,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    Delta,
    ModelCard,
    ModelList,
    ResponseMessage,
    StreamChoice,
    Usage,
    completion_id,
)

logger = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.25  # how often a waiting non-streamed request checks that its client is still there


def create_app(engine: ServeEngine, api_key: str | None = None, shutdown_grace_s: float = 30.0) -> FastAPI:
    """The app for `engine`. The engine's worker starts and stops with the app's lifespan;
    at shutdown the running batch gets `shutdown_grace_s` seconds before its rows are ended."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.start()
        try:
            yield
        finally:
            await asyncio.to_thread(engine.close, shutdown_grace_s)

    app = FastAPI(title="saess", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if not given or scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(),
                                                                                  api_key.encode()):
            raise APIError(401, "no or wrong API key (send 'Authorization: Bearer KEY')", code="invalid_api_key")

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError):
        return JSONResponse(e.body(), status_code=e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        err = APIError(e.status_code, str(e.detail), code="not_found" if e.status_code == 404 else None)
        return JSONResponse(err.body(), status_code=e.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):
        logger.exception("unexpected error on %s", request.url.path)
        err = APIError(500, "internal server error (logged on the server)", code="internal_error")
        return JSONResponse(err.body(), status_code=500)

    @app.get("/health")
    async def health():
        stats = engine.stats()
        return JSONResponse({"status": "closing" if stats["closing"] else "ok", "model": engine.name, **stats},
                            status_code=503 if stats["closing"] else 200)

    @app.get("/v1/models", dependencies=[Depends(check_key)])
    async def models():
        return ModelList(data=[ModelCard(id=engine.name, created=engine.created)]).model_dump()

    @app.post("/v1/chat/completions", dependencies=[Depends(check_key)])
    async def chat_completions(request: Request):
        req = parse_request(await request.body())
        job = engine.prepare(req)
        engine.submit(job)
        cid = completion_id()
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(stream(job, cid, include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        try:
            comp = await wait_done(job, request)
        finally:
            job.cancelled = True  # a no-op once done; ends the row if this handler was cancelled
        return ChatCompletionResponse(
            id=cid, model=engine.name,
            choices=[Choice(message=ResponseMessage(content=comp.content), finish_reason=comp.finish_reason)],
            usage=usage(comp), safety=comp.safety).model_dump(exclude_none=True)

    async def wait_done(job: Job, request: Request) -> Completion:
        while True:
            try:
                kind, payload = await asyncio.wait_for(job.events.get(), DISCONNECT_POLL_S)
            except TimeoutError:
                if await request.is_disconnected():
                    job.cancelled = True
                    raise APIError(499, "client disconnected") from None
                continue
            if kind == "done":
                return payload
            if kind == "error":
                raise payload

    async def stream(job: Job, cid: str, include_usage: bool):
        created = engine.created

        def chunk(delta: Delta, finish=None, **extra) -> str:
            c = ChatCompletionChunk(id=cid, created=created, model=engine.name,
                                    choices=[StreamChoice(delta=delta, finish_reason=finish)], **extra)
            return f"data: {c.model_dump_json(exclude_none=True)}\n\n"

        try:
            yield chunk(Delta(role="assistant", content=""))
            while True:
                kind, payload = await job.events.get()
                if kind == "delta":
                    yield chunk(Delta(content=payload))
                elif kind == "done":
                    yield chunk(Delta(), finish=payload.finish_reason, safety=payload.safety)
                    if include_usage:
                        c = ChatCompletionChunk(id=cid, created=created, model=engine.name, choices=[],
                                                usage=usage(payload))
                        yield f"data: {c.model_dump_json(exclude_none=True)}\n\n"
                    break
                else:  # an error after the stream started: an error event, as the OpenAI API sends
                    yield f"data: {json.dumps(payload.body())}\n\n"
                    break
            yield "data: [DONE]\n\n"
        finally:
            job.cancelled = True  # the client went away (or the stream ended): stop the row's work

    return app


def usage(comp: Completion) -> Usage:
    return Usage(prompt_tokens=comp.prompt_tokens, completion_tokens=comp.completion_tokens,
                 total_tokens=comp.prompt_tokens + comp.completion_tokens)


def parse_request(body: bytes) -> ChatCompletionRequest:
    """The request body as a `ChatCompletionRequest`; any problem is an APIError(400) naming the field."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise APIError(400, f"the body is not valid JSON: {e}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise APIError(400, "the body must be a JSON object", code="invalid_json")
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise APIError(400, f"{loc}: {msg}{more}" if loc != "body" else f"{msg}{more}", param=loc or None,
                       code="invalid_value") from None
