"""vLLM offline backend (GPU): one `LLM` engine, one `SamplingParams` per problem.

vllm is an optional extra and is imported only when this backend is built. `skip_special_tokens`
is off so an added `<|diff|>` stays in `.text` (docs/design.md §5.1).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from lintseq.inference.text import end_marker_ids, strip_trailing
from lintseq.inference.types import BackendUnavailable, Generation, Request, SamplingSettings

INSTALL_HINT = "the 'vllm' backend needs vLLM (and a GPU): pip install 'lintseq[vllm]'"


class SamplingParamsKwargs(TypedDict):
    """The keyword arguments lintseq gives `vllm.SamplingParams`."""

    n: int
    temperature: float
    top_p: float
    min_p: float
    seed: int
    max_tokens: int
    skip_special_tokens: bool
    include_stop_str_in_output: bool
    stop: NotRequired[list[str]]
    stop_token_ids: NotRequired[list[int]]


def sampling_params_kwargs(
    settings: SamplingSettings, request: Request, stop_token_ids: list[int] | None = None
) -> SamplingParamsKwargs:
    """Keyword arguments for `vllm.SamplingParams` for one request.

    Greedy decoding asks for one sample (it is copied n times), since n > 1 adds nothing there.
    """
    kwargs = SamplingParamsKwargs(
        n=1 if settings.greedy else request.n,
        temperature=settings.temperature,
        top_p=1.0 if settings.greedy else settings.top_p,
        min_p=0.0 if settings.greedy else settings.min_p,
        seed=request.seed,
        max_tokens=settings.max_new_tokens,
        skip_special_tokens=False,
        include_stop_str_in_output=False,
    )
    if settings.stop:
        kwargs["stop"] = list(settings.stop)
    if stop_token_ids:  # end-of-text specials beside the model's EOS (`text.end_marker_ids`)
        kwargs["stop_token_ids"] = list(stop_token_ids)
    return kwargs


def generations_from_output(output, n: int, strip: list[str]) -> list[Generation]:
    """Generations from one `RequestOutput` (duck-typed: `.outputs[i].text/.token_ids/.finish_reason`)."""
    gens = [
        Generation(
            text=strip_trailing(o.text, strip),
            finish_reason="length" if o.finish_reason == "length" else "stop",
            n_tokens=len(o.token_ids) if o.token_ids is not None else None,
        )
        for o in sorted(output.outputs, key=lambda o: getattr(o, "index", 0))
    ]
    if len(gens) == 1 and n > 1:  # greedy: one decode stands for all n
        gens = [Generation(gens[0].text, gens[0].finish_reason, gens[0].n_tokens) for _ in range(n)]
    return gens


class VLLMBackend:
    """Samples with `vllm.LLM.generate`; vLLM schedules and batches by itself."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        tokenizer: str | None = None,
        dtype: str = "auto",
        seed: int = 0,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        problems_per_call: int = 64,
    ) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as e:
            raise BackendUnavailable(INSTALL_HINT) from e
        self._sampling_params = SamplingParams
        kwargs = dict(model=model, seed=seed, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization)
        if tokenizer:
            kwargs["tokenizer"] = tokenizer
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)
        tok = self.llm.get_tokenizer()
        self._strip = [t for t in (tok.eos_token, tok.pad_token) if t]
        self._end_ids = end_marker_ids(tok)
        self._per_call = problems_per_call

    def problems_per_call(self, n: int) -> int:
        return self._per_call

    def generate(self, requests: list[Request], settings: SamplingSettings) -> list[list[Generation]]:
        params = [self._sampling_params(**sampling_params_kwargs(settings, r, self._end_ids)) for r in requests]
        outputs = self.llm.generate([r.prompt for r in requests], params, use_tqdm=False)
        return [generations_from_output(o, r.n, self._strip) for o, r in zip(outputs, requests)]
