"""Sampling from code models: backends (transformers, vLLM, OpenAI-compatible endpoints) behind
one interface, and the driver that writes resumable sample files for `lintseq evaluate`."""

from lintseq.inference.backends import BACKENDS, make_backend
from lintseq.inference.sample import SampleStats, sample_benchmark
from lintseq.inference.types import Backend, BackendUnavailable, Generation, Request, SamplingSettings

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailable",
    "Generation",
    "Request",
    "SampleStats",
    "SamplingSettings",
    "make_backend",
    "sample_benchmark",
]
