"""A fine-tuned planner adapter on disk: LoRA weights, their card, and the llama.cpp form.

An adapter directory holds ``adapter_model.safetensors`` and ``adapter_config.json`` (as peft
writes them) and ``card.json`` (:class:`AdapterCard`). Loading checks the weights' sha256 against
the card and the card's base model against the packaged model, so a corrupt or mismatched adapter
is a clear error. llama.cpp reads LoRA adapters as GGUF files; :func:`gguf_adapter` writes one from
the safetensors into the cache on first use (a few seconds) and returns it afterwards.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from foreman.errors import ForemanError
from foreman.planner.weights import PACKAGED_MODELS, PackagedModel, cache_dir

ADAPTERS_DIR = Path(__file__).resolve().parent.parent / "adapters"
WEIGHTS = "adapter_model.safetensors"
CARD = "card.json"

# Hugging Face Qwen2 module names -> llama.cpp tensor names
_GGUF_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT_KEY = re.compile(r"(?:.*\.)?layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight")


class AdapterError(ForemanError):
    """An adapter directory is missing a file, is corrupt, or does not fit its base model."""


class AdapterCard(BaseModel):
    """What an adapter is, what it was trained on, and how it did."""

    name: str
    description: str
    base_model: str
    base_sha256: str
    rank: int
    alpha: float
    target_modules: list[str]
    prompt: str
    """which prompt set the adapter was trained with (``PlannerPrompts.load(tuned=...)``)"""
    data: dict
    """the data recipe (``tuning.data.DataRecipe`` as a dict): the examples are remade from it"""
    training: dict
    """steps, epochs, examples, tokens, minutes, final loss, the config"""
    evaluation: dict = {}
    sha256: str

    @property
    def base(self) -> PackagedModel:
        if self.base_model not in PACKAGED_MODELS:
            raise AdapterError(f"adapter {self.name!r}: base model {self.base_model!r} is not a packaged model")
        model = PACKAGED_MODELS[self.base_model]
        if model.sha256 != self.base_sha256:
            raise AdapterError(
                f"adapter {self.name!r} was trained on {self.base_model} with sha256 {self.base_sha256}, "
                f"but the packaged model has {model.sha256}"
            )
        return model


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_card(directory: Path) -> AdapterCard:
    """The adapter's card, after checking that the weights are the ones it describes."""
    card_path, weights = directory / CARD, directory / WEIGHTS
    for path in (card_path, weights):
        if not path.is_file():
            raise AdapterError(f"adapter {directory}: {path.name} is missing")
    try:
        card = AdapterCard.model_validate(json.loads(card_path.read_text()))
    except (json.JSONDecodeError, ValidationError) as error:
        raise AdapterError(f"adapter card {card_path} is not valid: {error}") from error
    if file_sha256(weights) != card.sha256:
        raise AdapterError(f"adapter {directory}: {WEIGHTS} does not match the sha256 in its card (corrupt?)")
    card.base  # noqa: B018 - checks the base model
    return card


def gguf_tensors(state: dict) -> dict[str, Any]:
    """peft LoRA tensors (``...layers.N.self_attn.q_proj.lora_A.weight``) under llama.cpp's names
    (``blk.N.attn_q.weight.lora_a``); shapes stay as they are (A: rank x in, B: out x rank)."""
    tensors = {}
    for key, value in state.items():
        match = _PEFT_KEY.fullmatch(key)
        if not match or match.group(2) not in _GGUF_NAMES:
            raise AdapterError(f"no llama.cpp tensor for adapter weight {key!r}")
        layer, module, side = match.groups()
        tensors[f"blk.{layer}.{_GGUF_NAMES[module]}.weight.lora_{side.lower()}"] = value
    return tensors


def gguf_adapter(directory: Path) -> Path:
    """The adapter as a GGUF file llama.cpp loads (``Llama(lora_path=...)``), built once."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    card = load_card(directory)
    target = cache_dir() / "adapters" / f"{card.name}-{card.sha256[:16]}.gguf"
    if target.exists():
        return target
    state = {k: v.astype(np.float32) for k, v in load_file(str(directory / WEIGHTS)).items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    writer = gguf.GGUFWriter(str(partial), arch="qwen2")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(card.alpha))
    for name, value in gguf_tensors(state).items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(target)
    return target
