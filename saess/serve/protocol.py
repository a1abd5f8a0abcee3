"""Request and response shapes of the OpenAI chat completions API, as pydantic models.

Only what `saess serve` implements is accepted: a field of the OpenAI API that would
change the answer and is not implemented here (tools, logprobs, n > 1, penalties ...)
is refused with a 400 naming it, never silently ignored. Fields that do not change the
answer (`user`, `metadata`, `store` ...) are ignored. Numbers are strictly typed: `"5"`
is not an integer.

The extension: a request may carry a `safety` object (the OpenAI clients send it through
`extra_body`) with per-request strategic settings; every response carries a `safety`
object with what the signal saw and did (`SafetyReport`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

# Fields of the OpenAI API that change the answer and are not implemented: refused when set
# to anything but their neutral value.
UNSUPPORTED = {"tools": None, "tool_choice": None, "functions": None, "function_call": None,
               "logprobs": False, "top_logprobs": None, "response_format": None, "logit_bias": None,
               "presence_penalty": 0, "frequency_penalty": 0, "audio": None, "prediction": None,
               "modalities": None, "web_search_options": None, "reasoning_effort": None}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[TextPart]
    name: StrictStr | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class SafetyOptions(BaseModel):
    """Per-request strategic settings (`extra_body={"safety": {...}}`); the server's limits apply."""

    model_config = ConfigDict(extra="forbid")
    reliance: Literal["off", "low", "medium", "high"] | None = None
    schedule: Literal["first", "periodic", "every", "annealing"] | None = None
    period: StrictInt | None = Field(None, ge=1, le=4096)
    tau: StrictInt | None = Field(None, ge=1, le=16)
    threshold: StrictFloat | None = Field(None, gt=0, lt=1)
    r1: StrictInt | None = Field(None, ge=1, le=4096)
    r2: StrictInt | None = Field(None, ge=1, le=4096)
    r3: StrictInt | None = Field(None, ge=1, le=4096)
    trace: StrictBool = False  # return the re-evaluation trace in the response's `safety`


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: StrictStr
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | StrictInt | None = Field(None, gt=0, le=1)
    seed: StrictInt | None = None
    stop: StrictStr | list[StrictStr] | None = None
    n: StrictInt = Field(1, ge=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    safety: SafetyOptions | None = None

    @model_validator(mode="after")
    def _supported(self) -> ChatCompletionRequest:
        if self.n != 1:
            raise ValueError("n: only n=1 is supported")
        for name, neutral in UNSUPPORTED.items():
            v = (self.model_extra or {}).get(name)
            if v is not None and v != neutral:
                raise ValueError(f"{name}: not supported by this server")
        if self.max_tokens is not None and self.max_completion_tokens is not None \
                and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens differ; give one")
        stops = self.stop_list()
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("stop: at most 4 non-empty strings")
        return self

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def token_budget(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


# --- responses -------------------------------------------------------------------------
def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


class SafetyReport(BaseModel):
    """What the safety signal saw and did for one response."""

    p_malicious_query: float  # the head's P(malicious) of the query (all judged messages)
    malicious_query: bool  # p_malicious_query >= threshold
    threshold: float
    reliance: str
    schedule: str
    guide_inserted: bool  # the guide ("Sorry, I cannot fulfill your request because") was forced in
    guide_inserted_at: list[int]  # response token indices where it was inserted
    refused: bool  # reliance high: the answer was stopped and replaced by the refusal
    reevaluations: int  # re-evaluations of [CLS] while writing
    trace: list[dict[str, Any]] | None = None  # on request (`safety.trace: true`)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "content_filter"]
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    safety: SafetyReport


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class StreamChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length", "content_filter"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[StreamChoice]
    usage: Usage | None = None
    safety: SafetyReport | None = None  # on the chunk that carries the finish_reason


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "saess"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class APIError(Exception):
    """An error for the client, in the OpenAI shape: status, one-line message, type, code."""

    TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
             405: "invalid_request_error", 429: "rate_limit_error", 500: "server_error", 503: "server_error"}

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, " ".join(message.split()), code, param
        self.headers = headers or {}

    def body(self) -> dict:
        return ErrorResponse(error=ErrorBody(message=self.message, type=self.TYPES.get(self.status, "server_error"),
                                             param=self.param, code=self.code)).model_dump()
