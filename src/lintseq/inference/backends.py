"""Backend names to constructors; each backend's heavy imports happen only when it is built."""

from __future__ import annotations

from lintseq.inference.types import BACKENDS, Backend

__all__ = ["BACKENDS", "make_backend"]


def make_backend(name: str, model: str, **options) -> Backend:
    """Build a backend; `options` are the keyword arguments of its class (None values dropped)."""
    from lintseq.models.names import resolve_model

    options = {k: v for k, v in options.items() if v is not None}
    if options.get("tokenizer"):
        options["tokenizer"] = resolve_model(options["tokenizer"])
    if name in ("hf", "vllm"):  # the openai backend's model is the name the server knows it by
        model = resolve_model(model)
    if name == "hf":
        from lintseq.inference.hf import HFBackend

        return HFBackend(model, **options)
    if name == "vllm":
        from lintseq.inference.vllm_offline import VLLMBackend

        return VLLMBackend(model, **options)
    if name == "openai":
        from lintseq.inference.openai_api import OpenAIBackend

        return OpenAIBackend(model, **options)
    raise ValueError(f"unknown backend {name!r} (expected one of {', '.join(BACKENDS)})")
