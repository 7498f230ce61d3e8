"""The processes of a training run started by `accelerate launch` or `torchrun`.

Every process runs the same `train`/`pretrain` code; only the main one writes files, and the
others wait for what it writes (the tokenizer, the packed corpus) instead of building their
own, so all of them train on the same tokens in the same order.

On a machine without a GPU, several processes train on the CPU with the gloo backend. accelerate
would leave such processes unaware of each other (each training alone on all the data), so
`start` asks for the CPU state itself and `use_cpu` passes that on to the Trainer.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

WORLD_ENV = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
# how long a process waits for the others: the main one may train a tokenizer and tokenize a
# large corpus while they wait (a process that dies ends the run at once: the launcher stops all)
TIMEOUT = timedelta(hours=6)


def launched_world_size() -> int:
    """How many processes the launcher started (1 without a launcher)."""
    for name in WORLD_ENV:
        value = os.environ.get(name)
        if value:
            return int(value)
    return 1


@dataclass(frozen=True)
class Processes:
    count: int
    index: int
    cpu: bool  # several processes on the CPU (gloo)

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def wait(self) -> None:
        """Every process stops here until all have arrived (a no-op for one process)."""
        if self.count > 1:
            from accelerate import PartialState

            PartialState().wait_for_everyone()


def start() -> Processes:
    """Join the launcher's process group (before any file is touched)."""
    world = launched_world_size()
    if world == 1:
        return Processes(1, 0, False)
    from accelerate import PartialState
    from accelerate.utils import DistributedType

    state = PartialState(timeout=TIMEOUT)
    if state.distributed_type == DistributedType.NO:  # launched as several processes, but no GPU
        PartialState._reset_state()
        state = PartialState(cpu=True, timeout=TIMEOUT)
    if state.num_processes != world:
        raise RuntimeError(f"the launcher started {world} processes but {state.num_processes} joined the process group")
    if not state.is_main_process:
        logging.getLogger("lintseq").setLevel(logging.WARNING)  # the main process reports
    return Processes(state.num_processes, state.process_index, cpu_group())


def cpu_group() -> bool:
    """Whether this run's processes train together on the CPU (gloo), for `TrainingArguments.use_cpu`."""
    if launched_world_size() == 1:
        return False
    from accelerate import PartialState
    from accelerate.utils import DistributedType

    return PartialState._shared_state != {} and PartialState().distributed_type == DistributedType.MULTI_CPU


def sharded_weights() -> bool:
    """Whether the launcher shards the weights across processes (FSDP, DeepSpeed ZeRO-3)."""
    env = os.environ
    return env.get("ACCELERATE_USE_FSDP", "").lower() == "true" or (
        env.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3"
    )


def check_precision(bf16: bool) -> None:
    """Refuse a launcher whose mixed precision differs from the run's: the Trainer would follow
    the launcher (`accelerate launch --mixed_precision`, or a config file's) and the saved
    config would not repeat the run."""
    asked = os.environ.get("ACCELERATE_MIXED_PRECISION")
    if asked and asked != ("bf16" if bf16 else "no"):
        raise ValueError(
            f"the launcher asks for {asked} mixed precision, this run for "
            f"{'bf16' if bf16 else 'none'}: lintseq sets it with --bf16/--no-bf16; "
            f"launch with --mixed_precision {'bf16' if bf16 else 'no'} (or that in the config file)"
        )
