"""The built-in chat model: a packaged GGUF model run by llama.cpp, as a LangChain chat model.

Any other LangChain chat model can stand in for it; this one adds what a local model makes
possible: output constrained by a GBNF grammar (``model.bind(grammar=...)`` or the ``grammar``
argument), and reuse of the cached prompt prefix between calls (llama.cpp keeps the KV cache of
the longest common prefix, so the fixed instructions and examples are evaluated once).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from foreman.planner.weights import QWEN_CODER_1_5B, PackagedModel, model_path

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C libraries write there directly) for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def chat_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the role/content dicts chat templates take."""
    return [{"role": _ROLES[m.type], "content": str(m.content)} for m in messages]


class LlamaCppChat(BaseChatModel):
    """A chat model over ``llama_cpp.Llama``, greedy by default."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: PackagedModel = QWEN_CODER_1_5B
    lora: Path | None = None
    """a LoRA adapter in GGUF form (``planner.tuning.adapter.gguf_adapter``) applied to the model"""
    n_ctx: int = 4096
    n_threads: int = max(1, min(2, os.cpu_count() or 1))
    max_tokens: int = 160
    temperature: float = 0.0
    seed: int = 0
    _llama: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {"model": self.model.name, "sha256": self.model.sha256, "n_ctx": self.n_ctx}
        return params | ({"lora": self.lora.name} if self.lora else {})

    @property
    def llama(self):
        """The loaded model (loaded on first use: about a second for the 1.5B)."""
        if self._llama is None:
            self._llama = self._load()
        return self._llama

    def _load(self):
        from llama_cpp import Llama

        with _quiet_stderr():  # llama.cpp logs every LoRA tensor it places, even when not verbose
            return Llama(
                model_path=str(model_path(self.model)),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                seed=self.seed,
                lora_path=str(self.lora) if self.lora else None,
                verbose=False,
            )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from llama_cpp import LlamaGrammar

        chat = chat_messages(messages)
        started = time.perf_counter()
        response = self.llama.create_chat_completion(
            messages=chat,
            max_tokens=self.max_tokens,
            stop=stop,
            grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
            **{"temperature": self.temperature, "seed": self.seed, **kwargs},
        )
        latency = time.perf_counter() - started
        usage = response["usage"]
        message = AIMessage(
            content=response["choices"][0]["message"]["content"] or "",
            usage_metadata={
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
            response_metadata={"model": self.model.name, "latency_s": latency},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
