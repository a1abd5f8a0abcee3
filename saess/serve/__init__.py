"""`saess serve`: the safety-signal model behind an OpenAI-compatible chat completions API.

- `protocol`: request/response shapes (pydantic) and the OpenAI-shaped `APIError`.
- `engine`: `ServeEngine`, a bounded queue in front of `SafeGenerator`, batched by length.
- `app`: the FastAPI app (`create_app`).
- `cli`: the `saess serve` command.
"""
