"""Any OpenAI-compatible completions endpoint (a vLLM server, TGI, SGLang, a hosted API).

One `completions.create` call per problem with `n=k`; calls run concurrently. vLLM-only fields go in
`extra_body` (min_p, keep special tokens, return token ids for per-sample counts; docs/design.md
§5.1). Where the server sends no token ids, counts come from a local tokenizer if one is
given, else they are None.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lintseq.inference.text import strip_trailing
from lintseq.inference.types import BackendError, BackendUnavailable, Generation, Request, SamplingSettings

INSTALL_HINT = "the 'openai' backend needs the openai client: pip install 'lintseq[openai]'"


def request_kwargs(model: str, settings: SamplingSettings, request: Request, vllm_extras: bool = True) -> dict:
    """Keyword arguments for `client.completions.create` for one problem."""
    kwargs: dict = dict(
        model=model,
        prompt=request.prompt,
        n=request.n,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_new_tokens,
        seed=request.seed,
    )
    if settings.stop:
        kwargs["stop"] = list(settings.stop)
    if vllm_extras:
        extra: dict = {"skip_special_tokens": False, "return_token_ids": True}
        if settings.min_p > 0:
            extra["min_p"] = settings.min_p
        kwargs["extra_body"] = extra
    elif settings.min_p > 0:
        raise ValueError("min_p needs an endpoint that accepts extra fields (a vLLM-style server)")
    return kwargs


def generations_from_response(response, n: int, strip: list[str], count=None) -> list[Generation]:
    """Generations from a `Completion`, in choice order; `count(text)` is the fallback token counter."""
    choices = sorted(response.choices, key=lambda c: c.index)
    if len(choices) != n:
        raise BackendError(f"the endpoint returned {len(choices)} choices for n={n}")
    gens = []
    for c in choices:
        extra = c.model_extra or {}
        ids = extra.get("token_ids")
        text = strip_trailing(c.text, strip)
        if ids is not None:
            n_tokens = len(ids)
        elif count is not None:
            n_tokens = count(text) + (1 if c.finish_reason == "stop" else 0)
        else:
            n_tokens = None
        reason = "length" if c.finish_reason == "length" else "stop"
        gens.append(Generation(text, reason, n_tokens))
    return gens


class OpenAIBackend:
    """Samples from a served model; `concurrency` problems are in flight at once."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        tokenizer: str | None = None,
        concurrency: int = 8,
        vllm_extras: bool = True,
        timeout: float = 600.0,
        max_retries: int = 3,
    ) -> None:
        try:
            from openai import OpenAI, OpenAIError
        except ImportError as e:
            raise BackendUnavailable(INSTALL_HINT) from e
        self._error = OpenAIError
        self.model = model
        self.client = OpenAI(base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout, max_retries=max_retries)
        self.concurrency = max(1, concurrency)
        self.vllm_extras = vllm_extras
        self._count = None
        self._strip: list[str] = []
        if tokenizer:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(tokenizer)
            self._count = lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
            self._strip = [t for t in (tok.eos_token, tok.pad_token) if t]

    def problems_per_call(self, n: int) -> int:
        return self.concurrency

    def _one(self, request: Request, settings: SamplingSettings) -> list[Generation]:
        try:
            response = self.client.completions.create(**request_kwargs(self.model, settings, request, self.vllm_extras))
        except self._error as e:
            raise BackendError(f"{self.client.base_url}: {e}") from e
        return generations_from_response(response, request.n, self._strip, self._count)

    def generate(self, requests: list[Request], settings: SamplingSettings) -> list[list[Generation]]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda r: self._one(r, settings), requests))
