"""GGUF files as ordinary Hugging Face model folders.

transformers reads a GGUF file (and dequantizes it), but the model it returns refuses
`save_pretrained` ("quantized with gguf"), and TRL, vLLM and our sampler all want a plain
folder. So the weights are read once, poured into a model built from the same config without
the quantization marker, and saved with the file's tokenizer. The folder appears only when it
is complete (written beside it under a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

from lintseq.io import swap_dir, temp_dir

MAGIC = b"GGUF"
RECORD = "lintseq_convert.json"  # written last inside the folder: where the weights came from


class ConvertError(ValueError):
    """A file that cannot become a model folder; the message says why and what to install."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_gguf(path: str | Path) -> Path:
    """The path, if it is a readable GGUF file and the `gguf` reader is installed."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read: {exc.strerror}") from None
    if head != MAGIC:
        raise ConvertError(f"{path}: not a GGUF file (it does not start with {MAGIC!r})")
    if importlib.util.find_spec("gguf") is None:
        raise ConvertError("reading GGUF files needs the `gguf` package: pip install 'lintseq[gguf]'")
    return path


def _load(path: Path):
    """(model, tokenizer) as transformers reads them from the GGUF file (dequantized, float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (ValueError, KeyError, OSError, RuntimeError, NotImplementedError) as exc:
        raise ConvertError(f"{path}: transformers cannot read this GGUF file: {exc}") from None
    return model, tok


def plain_model(quantized):
    """The same weights in a model built from the config, without the GGUF quantization marker."""
    from transformers import AutoModelForCausalLM

    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=quantized.dtype)
    model.load_state_dict(quantized.state_dict(), strict=True)
    model.generation_config = quantized.generation_config
    return model.eval()


def convert(src: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the GGUF file `src` as a model folder `out` (weights in float32, tokenizer, and
    `lintseq_convert.json` recording the source file and its SHA-256)."""
    src = check_gguf(src)
    out = Path(out).expanduser()
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise ConvertError(f"{out} already exists; pass --overwrite to replace it")
    quantized, tok = _load(src)
    model = plain_model(quantized)
    del quantized
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(out)
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        record = {
            "source": str(src.resolve()),
            "sha256": file_sha256(src),
            "bytes": src.stat().st_size,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _usual_modes(tmp)
        swap_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _usual_modes(folder: Path) -> None:
    """mkdtemp makes the folder private (0700); give it and its files the umask's modes."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~mask)
