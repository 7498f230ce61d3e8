"""What every backend takes and returns, so the driver never needs to know which one runs."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

from lintseq.settings import setting


def batch_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed from a run seed and what identifies a batch (stable across processes)."""
    h = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


BACKENDS = ("hf", "vllm", "openai")


class BackendUnavailable(RuntimeError):
    """A backend's optional dependency is not installed (the message says how to install it)."""


class BackendError(RuntimeError):
    """The model server or engine refused or failed a request (the message says why)."""


@dataclass(frozen=True)
class SamplingSettings:
    """Decoding settings shared by all backends; temperature 0 means greedy. The defaults are the
    paper's evaluation regime (n = 20, temperature 1, top-p 0.95), for `lintseq sample` and the
    experiment alike."""

    n: int = setting(20, help="Samples per problem (k).", flags=("-n", "--num-samples"), min=1)
    temperature: float = setting(1.0, help="0 means greedy.", flags=("--temperature", "-t"), min=0)
    top_p: float = setting(0.95, min=0, max=1, min_open=True)
    min_p: float = setting(0.0, min=0, max=1, max_open=True)
    max_new_tokens: int = setting(512, min=1)
    stop: tuple[str, ...] = setting((), help="Extra stop string (repeatable); EOS always stops.")
    seed: int = setting(0)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.min_p < 1:
            raise ValueError(f"min_p must be in [0, 1), got {self.min_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if any(s == "" for s in self.stop):
            raise ValueError("stop strings must not be empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class SampleSettings(SamplingSettings):
    """`lintseq sample`'s settings (and the experiment's `[sample]` table's): decoding, and how
    the model runs."""

    backend: str = setting("hf", choices=BACKENDS)
    batch_size: int = setting(16, help="hf: sequences per generate call; openai: requests in flight.", min=1)
    limit: int | None = setting(None, help="Only the first N problems (smoke runs).", min=1, metavar="N")
    device: str = setting("auto", help="hf: cpu, cuda, cuda:N or auto.")
    dtype: str = setting("auto", choices=("auto", "float32", "float16", "bfloat16"))
    max_model_len: int | None = setting(None, help="vllm: context length to reserve.", min=1)

    def backend_options(
        self, tokenizer: str | None = None, base_url: str | None = None, api_key: str | None = None, extras: bool = True
    ) -> dict:
        """The keyword arguments of `make_backend` for this backend (None: its default)."""
        if self.backend == "hf":
            return {"tokenizer": tokenizer, "device": self.device, "dtype": self.dtype, "batch_size": self.batch_size}
        if self.backend == "vllm":
            return {"tokenizer": tokenizer, "dtype": self.dtype, "seed": self.seed, "max_model_len": self.max_model_len}
        return {
            "base_url": base_url,
            "api_key": api_key,
            "tokenizer": tokenizer,
            "concurrency": self.batch_size,
            "vllm_extras": extras,
        }

    def decoding(self) -> SamplingSettings:
        """The decoding part, which the samples file records and every backend takes."""
        return SamplingSettings(**{f.name: getattr(self, f.name) for f in fields(SamplingSettings)})


@dataclass(frozen=True)
class Request:
    """One prompt to be sampled `n` times; `seed` makes its samples reproducible."""

    prompt: str
    n: int
    seed: int


@dataclass
class Generation:
    """One sample: the text after the prompt (special tokens kept, EOS/pad removed)."""

    text: str
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    n_tokens: int | None = None
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    """Turns requests into `request.n` generations each, in request order."""

    name: str

    def problems_per_call(self, n: int) -> int:
        """How many problems (of n samples each) one `generate` call should carry."""
        ...

    def generate(self, requests: list[Request], settings: SamplingSettings) -> list[list[Generation]]: ...
