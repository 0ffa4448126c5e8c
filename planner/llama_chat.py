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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

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


def default_threads() -> int:
    """llama.cpp's threads: ``FOREMAN_THREADS`` where set (eval workers share the cores out between
    them), else the cores up to two."""
    return int(os.environ.get("FOREMAN_THREADS") or max(1, min(2, os.cpu_count() or 1)))


def _load_llama(model: PackagedModel, lora: Path | None, n_ctx: int, threads: int, seed: int, logits_all=False):
    from llama_cpp import Llama

    with _quiet_stderr():  # llama.cpp logs every LoRA tensor it places, even when not verbose
        return Llama(
            model_path=str(model_path(model)),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=seed,
            lora_path=str(lora) if lora else None,
            logits_all=logits_all,
            verbose=False,
        )


def _shared(cached: list[int], tokens: list[int]) -> int:
    """How many leading tokens two sequences share (what the KV cache already holds)."""
    return next(
        (i for i, (a, b) in enumerate(zip(cached, tokens, strict=False)) if a != b), min(len(cached), len(tokens))
    )


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
    n_threads: int = Field(default_factory=default_threads)
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
        return _load_llama(self.model, self.lora, self.n_ctx, self.n_threads, self.seed)

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


class LlamaCppScorer:
    """Log-probabilities of continuations under a packaged model (SayCan mode's language model).

    A second llama.cpp instance that keeps the logits of every position (``logits_all``: about
    ``n_ctx`` x 152k floats, 0.6 GB at 1024). The prompt stays in the KV cache between calls;
    continuations are evaluated in sorted order, each reusing the tokens it shares with the one
    before (calls that differ in their last argument, or only in how the line ends, cost a few
    tokens each).
    """

    def __init__(self, model: PackagedModel = QWEN_CODER_1_5B, lora: Path | None = None, n_ctx: int = 1024):
        self.model, self.lora, self.n_ctx = model, lora, n_ctx
        self.name = model.name + (f" + {lora.name}" if lora else "")
        self.evaluated_tokens = 0
        self._llama: Any = None
        self._format: Any = None

    def _ready(self):
        if self._llama is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._llama = _load_llama(self.model, self.lora, self.n_ctx, default_threads(), 0, True)
            metadata = self._llama.metadata
            self._format = Jinja2ChatFormatter(
                template=metadata["tokenizer.chat_template"],
                eos_token=self._llama.detokenize([self._llama.token_eos()]).decode(),
                bos_token=self._llama.detokenize([self._llama.token_bos()]).decode(),
            )
        return self._llama

    def _tokens(self, text: str) -> list[int]:
        return self._ready().tokenize(text.encode(), add_bos=False, special=True)

    def score(self, messages: list[BaseMessage], prefix: str, continuations: Sequence[str]) -> list[float]:
        import numpy as np

        llama = self._ready()
        prompt = self._format(messages=chat_messages(messages)).prompt + prefix
        context = self._tokens(prompt)
        tokenized = [self._tokens(text) for text in continuations]
        if len(context) + max(map(len, tokenized)) > self.n_ctx:
            raise ValueError(f"the prompt and a continuation exceed the scorer's context of {self.n_ctx} tokens")
        common = _shared(llama.input_ids[: llama.n_tokens].tolist(), context)
        if common < len(context):
            llama.n_tokens = common
            llama.eval(context[common:])
            self.evaluated_tokens += len(context) - common
        base = len(context)
        totals = [0.0] * len(continuations)
        for index in sorted(range(len(tokenized)), key=tokenized.__getitem__):
            tokens = tokenized[index]
            shared = _shared(llama.input_ids[base : llama.n_tokens].tolist(), tokens)
            if shared < len(tokens):
                llama.n_tokens = base + shared
                llama.eval(tokens[shared:])
                self.evaluated_tokens += len(tokens) - shared
            rows = llama.scores[base - 1 : base - 1 + len(tokens)].astype(np.float64)
            top = rows.max(axis=1)
            normaliser = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
            totals[index] = float((rows[np.arange(len(tokens)), tokens] - normaliser).sum())
        llama.n_tokens = base
        return totals
