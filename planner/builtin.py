"""The built-in planners, by kind: the fine-tuned default and the untuned base for ablations.

- ``llm`` (default): the packaged Qwen2.5-Coder-0.5B with the shipped LoRA adapter
  (``planner/adapters/``, trained by ``foreman finetune sft``), prompted without examples.
- ``base``: an untuned packaged model (the 1.5B unless told) with the few-shot prompt.
- ``saycan``: the fine-tuned model scoring candidate calls, times the skills' affordances
  (``planner/saycan.py``); slower, as every candidate is evaluated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from foreman.planner.llama_chat import LlamaCppChat, LlamaCppScorer
from foreman.planner.llm import LLMPlanner, PlannerPrompts
from foreman.planner.saycan import SayCanPlanner
from foreman.planner.tuning.adapter import ADAPTERS_DIR, gguf_adapter, load_card
from foreman.planner.weights import PACKAGED_MODELS, QWEN_CODER_1_5B

PlannerKind = Literal["llm", "base", "saycan"]
PLANNER_KINDS: tuple[str, ...] = PlannerKind.__args__
DEFAULT_ADAPTER = ADAPTERS_DIR / "qwen2.5-coder-0.5b-plan-lora"


def builtin_planner(
    kind: PlannerKind = "llm", base_model: str = QWEN_CODER_1_5B.name, adapter: Path = DEFAULT_ADAPTER
) -> LLMPlanner | SayCanPlanner:
    """A planner of the given kind; ``base_model`` is the model of ``base``, ``adapter`` that of
    ``llm`` and ``saycan``."""
    if kind == "base":
        return LLMPlanner(LlamaCppChat(model=PACKAGED_MODELS[base_model]))
    if kind not in ("llm", "saycan"):
        raise ValueError(f"unknown planner kind {kind!r}; the built-in kinds are {', '.join(PLANNER_KINDS)}")
    card = load_card(adapter)
    if kind == "saycan":
        return SayCanPlanner(LlamaCppScorer(card.base, gguf_adapter(adapter)), PlannerPrompts.load(card.prompt))
    return LLMPlanner(
        LlamaCppChat(model=card.base, lora=gguf_adapter(adapter)), prompts=PlannerPrompts.load(card.prompt)
    )
