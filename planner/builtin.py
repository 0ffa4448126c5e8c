"""The built-in planners, by kind: the fine-tuned default and the untuned base for ablations.

- ``llm`` (default): the packaged Qwen2.5-Coder-0.5B with the shipped LoRA adapter
  (``planner/adapters/``, trained by ``foreman finetune sft``), prompted without examples.
- ``base``: an untuned packaged model (the 1.5B unless told) with the few-shot prompt.
- ``saycan``: the fine-tuned model scoring candidate calls, times the skills' affordances
  (``planner/saycan.py``); slower, as every candidate is evaluated.
- ``openai``: whatever model an OpenAI-compatible server serves (llama.cpp's, vLLM, Ollama, a
  hosted API), through langchain-openai, with the few-shot prompt; no grammar, so validation and
  retries keep its plans honest. Any other LangChain chat model plugs in as ``LLMPlanner(model)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from foreman.errors import ForemanError
from foreman.planner.llama_chat import LlamaCppChat, LlamaCppScorer
from foreman.planner.llm import LLMPlanner, PlannerPrompts
from foreman.planner.saycan import SayCanPlanner
from foreman.planner.screen import LanguageModelScreen
from foreman.planner.tuning.adapter import ADAPTERS_DIR, gguf_adapter, load_card
from foreman.planner.weights import PACKAGED_MODELS, QWEN_CODER_1_5B

PlannerKind = Literal["llm", "base", "saycan", "openai"]
PLANNER_KINDS: tuple[str, ...] = get_args(PlannerKind)
ModelName = Literal["qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m"]
DEFAULT_ADAPTER = ADAPTERS_DIR / "qwen2.5-coder-0.5b-plan-lora"


class PlannerConfigError(ForemanError):
    """Planner options that do not fit together."""


@dataclass(frozen=True)
class PlannerOptions:
    planner: PlannerKind = "llm"
    """llm: the fine-tuned default; base: the untuned --model, few-shot; saycan: candidate calls
    scored by the fine-tuned model times the skills' affordances; openai: the model behind --server"""
    model: ModelName = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    """the packaged model of --planner base"""
    adapter: Path = DEFAULT_ADAPTER
    """the LoRA adapter of --planner llm and saycan (default: the shipped one)"""
    server: str | None = None
    """an OpenAI-compatible server's base URL for --planner openai, e.g. http://127.0.0.1:8000/v1
    (its key, if it needs one, from $OPENAI_API_KEY)"""
    server_model: str = "local"
    """the model to ask that server for"""
    screen: bool = True
    """refuse goals that ask for nothing the skills can do before planning (a goal outside the
    mission language is judged by the packaged 1.5B model; --no-screen plans every goal)"""


def planner_from(options: PlannerOptions) -> LLMPlanner | SayCanPlanner:
    return builtin_planner(
        options.planner, options.model, options.adapter, options.server, options.server_model, options.screen
    )


def builtin_screen() -> LanguageModelScreen:
    """The goal screen of the built-in planners: the packaged 1.5B model's judgement."""
    return LanguageModelScreen(LlamaCppScorer(QWEN_CODER_1_5B))


def builtin_planner(
    kind: PlannerKind = "llm",
    base_model: str = QWEN_CODER_1_5B.name,
    adapter: Path = DEFAULT_ADAPTER,
    server: str | None = None,
    server_model: str = "local",
    screen: bool = True,
) -> LLMPlanner | SayCanPlanner:
    """A planner of the given kind; ``base_model`` is the model of ``base``, ``adapter`` that of
    ``llm`` and ``saycan``, ``server`` and ``server_model`` those of ``openai``; with ``screen``,
    goals no skill can serve are refused (see ``planner/screen.py``)."""
    goals = builtin_screen() if screen else None
    if kind == "base":
        return LLMPlanner(LlamaCppChat(model=PACKAGED_MODELS[base_model]), screen=goals)
    if kind == "openai":
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        if not server:
            raise PlannerConfigError("--planner openai needs --server URL (an OpenAI-compatible server's base URL)")
        key = SecretStr(os.environ.get("OPENAI_API_KEY", "not-needed"))
        chat = ChatOpenAI(base_url=server, api_key=key, model=server_model, temperature=0, max_completion_tokens=200)
        return LLMPlanner(chat, screen=goals)
    if kind not in ("llm", "saycan"):
        raise ValueError(f"unknown planner kind {kind!r}; the built-in kinds are {', '.join(PLANNER_KINDS)}")
    card = load_card(adapter)
    if kind == "saycan":
        scorer = LlamaCppScorer(card.base, gguf_adapter(adapter))
        return SayCanPlanner(scorer, PlannerPrompts.load(card.prompt), screen=goals)
    return LLMPlanner(
        LlamaCppChat(model=card.base, lora=gguf_adapter(adapter)),
        prompts=PlannerPrompts.load(card.prompt),
        screen=goals,
    )
