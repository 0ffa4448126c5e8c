"""Supervised fine-tuning of the planner with LoRA, on CPU, from the packaged GGUF model.

``foreman finetune sft`` runs :func:`train_sft`: examples from a :class:`DataRecipe`, each turned
into exactly the prompt the planner sends at run time (``PlannerPrompts("tuned")`` through the
model's own chat template) followed by the plan; the loss counts the plan's tokens only. Batches
hold examples of similar length, left-padded, so that the output layer (a 151k-word vocabulary) is
applied to the last few positions only. A checkpoint is written every ``checkpoint_every`` steps
and a run started again with the same config continues from it.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from foreman.paths import user_path
from foreman.planner.llama_chat import chat_messages
from foreman.planner.llm import PlannerPrompts
from foreman.planner.tuning.adapter import CARD, WEIGHTS, AdapterCard, file_sha256, load_card
from foreman.planner.tuning.data import DataRecipe, PlanExample, generate
from foreman.planner.weights import PACKAGED_MODELS, QWEN_CODER_0_5B, model_path

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class SFTConfig:
    name: str = "qwen2.5-coder-0.5b-plan-lora"
    """the adapter's name, on its card"""
    base_model: str = QWEN_CODER_0_5B.name
    """the packaged model the adapter is trained on"""
    data: DataRecipe = field(default_factory=DataRecipe)
    epochs: int = 1
    batch_size: int = 8
    lr: float = 5e-4
    warmup_fraction: float = 0.05
    rank: int = 8
    alpha: float = 16.0
    target_modules: tuple[str, ...] = TARGET_MODULES
    shuffle_seed: int = 0
    """seeds the LoRA initialisation and the batches' order"""
    threads: int = 2
    checkpoint_every: int = 20
    out: Path = field(default_factory=lambda: user_path("finetune", "sft"))
    """run folder: checkpoint, TensorBoard logs, and the adapter (load it with --adapter)"""
    init_adapter: Path | None = None
    """train this adapter further (same base, rank, alpha and modules) instead of a fresh one"""


def load_base(name: str):
    """The packaged GGUF model, dequantized into transformers (bfloat16), and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_path(PACKAGED_MODELS[name])
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.bfloat16)
    return model, tokenizer


def encode(example: PlanExample, tokenizer, prompts: PlannerPrompts) -> tuple[list[int], int]:
    """Token ids of the planner's prompt for the example followed by its plan and end of turn, and
    how many of them are the plan's (the trained part)."""
    _, messages = prompts.messages(example.request)
    prompt = tokenizer.apply_chat_template(chat_messages(messages), tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.plan + "<|im_end|>", add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, len(answer_ids)


def batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Indices grouped by similar length (little padding), batches in a seeded random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(groups)
    return groups


def plan_loss(model, sequences: list[tuple[list[int], int]], pad_id: int) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over the plan tokens of a batch, and how many tokens the batch holds."""
    width = max(len(ids) for ids, _ in sequences)
    keep = max(n for _, n in sequences) + 1
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    trained = torch.zeros((len(sequences), width), dtype=torch.bool)
    for row, (ids, answer) in enumerate(sequences):
        input_ids[row, width - len(ids) :] = torch.tensor(ids)
        attention[row, width - len(ids) :] = 1
        trained[row, width - answer :] = True
    logits = model(input_ids=input_ids, attention_mask=attention, logits_to_keep=keep).logits
    targets, mask = input_ids[:, width - keep + 1 :], trained[:, width - keep + 1 :]
    loss = F.cross_entropy(logits[:, :-1][mask].float(), targets[mask])
    return loss, int(attention.sum())


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return max(0.1, 1 - (step - warmup) / max(1, total - warmup))


def _config_json(config: SFTConfig) -> dict:
    return json.loads(json.dumps(asdict(config), default=str))


def train_sft(
    config: SFTConfig,
    model=None,
    tokenizer=None,
    progress: bool = True,
    examples: list[PlanExample] | None = None,
    data: dict | None = None,
) -> AdapterCard:
    """Train a LoRA adapter; writes it with its card to ``config.out`` and returns the card.

    ``model`` and ``tokenizer`` default to the packaged base model, carrying
    ``config.init_adapter`` when there is one (its card is kept under ``training.continued_from``).
    ``examples`` (described by ``data`` on the card) replace the config's recipe: the outcome stage
    trains on its own.
    """
    from peft import LoraConfig, PeftModel, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.shuffle_seed)
    prior = load_card(config.init_adapter) if config.init_adapter else None
    if prior is not None:
        mine = (config.base_model, config.rank, config.alpha, list(config.target_modules))
        if (prior.base_model, prior.rank, prior.alpha, prior.target_modules) != mine:
            raise ValueError(
                f"adapter {config.init_adapter} has base {prior.base_model}, rank {prior.rank}, alpha {prior.alpha}, "
                f"modules {prior.target_modules}; this config asks for {mine}"
            )
    if model is None:
        model, tokenizer = load_base(config.base_model)
    if prior is not None and not isinstance(model, PeftModel):
        model = PeftModel.from_pretrained(model, str(config.init_adapter), is_trainable=True)
    base = PACKAGED_MODELS[config.base_model]
    prompts = PlannerPrompts.load("tuned")
    examples = generate(config.data) if examples is None else examples
    encoded = [encode(example, tokenizer, prompts) for example in examples]
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,  # type: ignore[arg-type]  # peft types it int; a float works target_modules=list(config.target_modules), lora_dropout=0.0
    )
    if not isinstance(model, PeftModel):
        model = get_peft_model(model, lora)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=0.0)
    plan = [
        batches([len(ids) for ids, _ in encoded], config.batch_size, config.shuffle_seed + e)
        for e in range(config.epochs)
    ]
    steps = [(epoch, group) for epoch in range(config.epochs) for group in plan[epoch]]
    warmup = max(1, round(config.warmup_fraction * len(steps)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _schedule(s, len(steps), warmup))

    config.out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = config.out / "checkpoint.pt"
    step, tokens, losses, seconds = 0, 0, [], 0.0
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=False)
        if state["config"] != _config_json(config):
            raise ValueError(f"{checkpoint_path} was written by another config; use a new --out or delete it")
        set_peft_model_state_dict(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, tokens, losses, seconds = state["step"], state["tokens"], state["losses"], state["seconds"]

    def save_checkpoint() -> None:
        state = {
            "config": _config_json(config),
            "lora": get_peft_model_state_dict(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "tokens": tokens,
            "losses": losses,
            "seconds": seconds,
        }
        torch.save(state, checkpoint_path.with_suffix(".partial"))
        checkpoint_path.with_suffix(".partial").replace(checkpoint_path)

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    board = SummaryWriter(str(config.out / "tensorboard"))
    model.train()
    bar = tqdm(total=len(steps), initial=step, desc="sft", unit="step", disable=not progress)
    while step < len(steps):
        tick = time.perf_counter()
        loss, batch_tokens = plan_loss(model, [encoded[i] for i in steps[step][1]], pad_id)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss.item()} at step {step}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step, tokens, seconds = step + 1, tokens + batch_tokens, seconds + time.perf_counter() - tick
        losses.append(loss.item())
        board.add_scalar("sft/loss", loss.item(), step)
        board.add_scalar("sft/lr", scheduler.get_last_lr()[0], step)
        board.add_scalar("sft/tokens_per_s", batch_tokens / (time.perf_counter() - tick), step)
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % config.checkpoint_every == 0 or step == len(steps):
            save_checkpoint()
    bar.close()
    board.close()

    weights = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(weights, str(config.out / WEIGHTS))
    model.peft_config["default"].save_pretrained(str(config.out))
    tail = losses[-max(1, len(losses) // 10) :]
    card = AdapterCard(
        name=config.name,
        description="LoRA adapter that makes the base model write plans as skill calls from a goal "
        "(and revise them from feedback) without in-context examples",
        base_model=base.name,
        base_sha256=base.sha256,
        rank=config.rank,
        alpha=config.alpha,
        target_modules=list(config.target_modules),
        prompt=prompts.variant,
        data=data or _config_json(config)["data"],
        training={
            "steps": step,
            "epochs": config.epochs,
            "examples": len(encoded),
            "tokens": tokens,
            "train_minutes": round(seconds / 60, 1),
            "wall_minutes_this_run": round((time.perf_counter() - started) / 60, 1),
            "final_loss": sum(tail) / len(tail),
            "config": _config_json(config),
        }
        | ({"continued_from": prior.model_dump(exclude={"description", "evaluation"})} if prior else {}),
        sha256=file_sha256(config.out / WEIGHTS),
    )
    (config.out / CARD).write_text(card.model_dump_json(indent=1) + "\n")
    return card
