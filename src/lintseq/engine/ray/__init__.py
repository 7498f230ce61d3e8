"""`lintseq generate --engine ray`: the local engine's per-row work, spread over a Ray cluster.

Importing this package imports Ray, so a missing Ray shows up here as an ImportError (the CLI
turns it into an install hint); `inputs`, `chunks` and `output` do not need Ray.
"""

from lintseq.engine.ray.inputs import EngineError, InputError
from lintseq.engine.ray.pipeline import generate_ray

__all__ = ["EngineError", "InputError", "generate_ray"]
