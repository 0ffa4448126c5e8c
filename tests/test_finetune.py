"""Planner fine-tuning: the data generator, a tiny LoRA run, the adapter on disk and in GGUF form."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from foreman.envs import Open, PickUp, clauses_in_order, from_babyai, make_env, parse_mission
from foreman.planner import PlannerPrompts, PlanRequest, format_plan, parse_plan, vocabulary_specs
from foreman.planner.plan import format_step
from foreman.planner.tuning.adapter import CARD, WEIGHTS, AdapterError, gguf_adapter, gguf_tensors, load_card
from foreman.planner.tuning.data import DataRecipe, generate
from foreman.planner.tuning.sft import SFTConfig, encode, train_sft

RECIPE = DataRecipe(examples=60, seed=123)


@pytest.fixture(scope="module")
def examples():
    return list(generate(RECIPE))


def test_the_data_is_the_same_for_a_seed_and_differs_across_seeds(examples):
    again = list(generate(RECIPE))
    assert [e.model_dump() for e in again] == [e.model_dump() for e in examples]
    other = list(generate(replace(RECIPE, seed=124)))
    assert [e.request.goal for e in other] != [e.request.goal for e in examples]


def test_every_kind_of_example_is_made(examples):
    assert {e.kind for e in generate(replace(RECIPE, examples=200))} == {"mission", "paraphrase", "pronoun", "replan"}


BARRED = replace(RECIPE, replan_fraction=0.6, barred_fraction=0.6)


def _barred(example) -> bool:
    """A replan example whose failed subgoal, not about a door, was stopped by a locked door."""
    failed = example.request.history[-1] if example.kind == "replan" else None
    return failed is not None and "is locked" in failed.reason and failed.subgoal.target.type != "door"


def test_barred_replans_are_made_only_when_the_recipe_asks_for_them(examples):
    assert not any(_barred(e) for e in examples)
    barred = [e for e in generate(BARRED) if _barred(e)]
    assert len(barred) >= 5 and all(e.request.history[-1].status == "failed" for e in barred)


@pytest.mark.parametrize("recipe", [RECIPE, BARRED], ids=["default", "barred"])
def test_labels_agree_with_the_envs_instruction_tree(recipe):
    examples = list(generate(recipe))
    envs = {}
    specs = vocabulary_specs()
    for example in examples:
        env = envs.setdefault(example.env_id, make_env(example.env_id))
        obs, _ = env.reset(seed=example.seed)
        assert obs["mission"] == example.mission
        clauses = clauses_in_order(from_babyai(env.unwrapped.instrs))
        plan = parse_plan(example.plan, specs)
        if example.kind in ("mission", "paraphrase"):
            assert plan == clauses, example
        elif example.kind == "pronoun":  # "go to X, then open it" / "pick up X and put it next to Y"
            assert {c.target.to_text() for c in plan} == {clauses[0].target.to_text()}
        else:
            done = [o.subgoal for o in example.request.history if o.status == "succeeded"]
            failed = example.request.history[-1]
            assert done == clauses[: len(done)] and failed.subgoal == clauses[len(done)]
            remaining = clauses[len(done) :]
            if "is locked" in failed.reason:
                color = re.search(r"a (\w+) key is needed", failed.reason).group(1)
                assert plan[0] == PickUp(target=parse_mission(f"pick up a {color} key").target)
                if failed.subgoal.target.type == "door":  # the door itself: open it once the key is in hand
                    assert plan[1:] == remaining
                else:  # what the subgoal needs lies behind the door: open it first
                    assert plan[1] == Open(target=parse_mission(f"open the {color} door").target)
                    assert plan[2:] == remaining
            else:
                assert plan == remaining


def test_paraphrases_keep_every_noun_phrase_of_the_plan_word_for_word(examples):
    paraphrases = [e for e in examples if e.kind in ("paraphrase", "pronoun")]
    assert paraphrases
    for example in paraphrases:
        assert example.request.goal != example.mission or example.kind == "pronoun"
        for step in parse_plan(example.plan, vocabulary_specs()):
            for name in ("target", "next_to"):
                if hasattr(step, name):
                    assert getattr(step, name).to_text() in example.request.goal


# --------------------------------------------------------------------------- a tiny model


def _tiny_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    wrapped.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    return wrapped


@pytest.fixture(scope="module")
def tiny(examples):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    prompts = PlannerPrompts.load("tuned")
    texts = [m.content for e in examples for m in prompts.messages(e.request)[1]] + [e.plan for e in examples]
    tokenizer = _tiny_tokenizer(texts)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
    )
    torch.manual_seed(0)
    return Qwen2ForCausalLM(config), tokenizer


def _lora(model, config: SFTConfig):
    import copy

    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, target_modules=list(config.target_modules))
    return get_peft_model(copy.deepcopy(model), lora)


def test_the_prompt_is_the_planners_and_only_the_plan_is_trained(examples, tiny):
    _, tokenizer = tiny
    example = examples[0]
    ids, answer = encode(example, tokenizer, PlannerPrompts.load("tuned"))
    assert tokenizer.decode(ids[-answer:]) == example.plan + "<|im_end|>"
    prompt = tokenizer.decode(ids[:-answer])
    assert example.request.goal in prompt and prompt.endswith("<|im_start|>assistant\n")
    assert "Goal:" in prompt and "go_to(OBJECT)" in prompt


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    model, tokenizer = tiny
    out = tmp_path_factory.mktemp("sft")
    config = SFTConfig(data=replace(RECIPE, examples=24), batch_size=8, lr=1e-2, out=out, checkpoint_every=1)
    peft_model = _lora(model, config)
    before = {k: v.detach().clone() for k, v in peft_model.named_parameters() if "lora_" in k}
    card = train_sft(config, model=peft_model, tokenizer=tokenizer, progress=False)
    return config, peft_model, before, card


def test_a_tiny_run_changes_every_lora_parameter_and_keeps_the_loss_finite(trained):
    config, model, before, card = trained
    after = dict(model.named_parameters())
    assert len(before) == 2 * 2 * len(config.target_modules)  # A and B, two layers
    for name, value in before.items():
        assert not torch.equal(after[name].detach(), value), f"{name} did not change"
    for name, value in model.named_parameters():
        if "lora_" not in name:
            assert not value.requires_grad
    assert card.training["steps"] == 3 and np.isfinite(card.training["final_loss"])
    assert (config.out / "tensorboard").is_dir()


def test_the_adapter_saves_and_loads_to_identical_logits(trained, tiny, examples):
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    config, model, _, card = trained
    assert load_card(config.out) == card
    fresh = _lora(tiny[0], config)
    set_peft_model_state_dict(fresh, load_file(str(config.out / WEIGHTS)))
    ids = torch.tensor([encode(examples[1], tiny[1], PlannerPrompts.load("tuned"))[0]])
    model.eval(), fresh.eval()
    with torch.no_grad():
        assert torch.equal(model(ids).logits, fresh(ids).logits)


def test_a_finished_run_resumes_to_the_same_adapter_and_another_config_is_refused(trained, tiny):
    config, model, _, card = trained
    again = train_sft(config, model=_lora(tiny[0], config), tokenizer=tiny[1], progress=False)
    assert again.sha256 == card.sha256
    with pytest.raises(ValueError, match="another config"):
        train_sft(replace(config, lr=0.5), model=_lora(tiny[0], config), tokenizer=tiny[1], progress=False)


def test_training_continues_from_an_adapter_and_records_it(trained, tiny, tmp_path):
    import copy

    from safetensors.torch import load_file

    config, _, _, card = trained
    frozen = replace(config, lr=0.0, out=tmp_path / "frozen", init_adapter=config.out)
    again = train_sft(frozen, model=copy.deepcopy(tiny[0]), tokenizer=tiny[1], progress=False)
    assert again.training["continued_from"]["sha256"] == card.sha256
    first, second = load_file(str(config.out / WEIGHTS)), load_file(str(frozen.out / WEIGHTS))
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    moved = train_sft(replace(frozen, lr=1e-2, out=tmp_path / "moved"), copy.deepcopy(tiny[0]), tiny[1], False)
    assert moved.sha256 != card.sha256
    with pytest.raises(ValueError, match="rank 8"):
        train_sft(replace(frozen, rank=4, out=tmp_path / "r4"), copy.deepcopy(tiny[0]), tiny[1], False)


def test_the_gguf_adapter_holds_every_lora_matrix_under_llama_cpp_names(trained, tmp_path, monkeypatch):
    import gguf
    from safetensors.torch import load_file

    config, _, _, card = trained
    monkeypatch.setenv("FOREMAN_CACHE", str(tmp_path))
    reader = gguf.GGUFReader(gguf_adapter(config.out))
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "qwen2" and fields["adapter.lora.alpha"] == card.alpha
    expected = gguf_tensors({k: v.numpy() for k, v in load_file(str(config.out / WEIGHTS)).items()})
    stored = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert set(stored) == set(expected) and "blk.1.ffn_down.weight.lora_b" in stored
    for name, value in expected.items():
        assert np.array_equal(stored[name].reshape(value.shape), value)


def test_a_corrupt_or_mismatched_adapter_is_a_clear_error(trained, tmp_path):
    import shutil

    config, _, _, card = trained
    for name in (WEIGHTS, CARD, "adapter_config.json"):
        shutil.copyfile(config.out / name, tmp_path / name)
    weights = bytearray((tmp_path / WEIGHTS).read_bytes())
    weights[-10] ^= 0xFF
    (tmp_path / WEIGHTS).write_bytes(bytes(weights))
    with pytest.raises(AdapterError, match="does not match the sha256"):
        load_card(tmp_path)
    shutil.copyfile(config.out / WEIGHTS, tmp_path / WEIGHTS)
    (tmp_path / CARD).write_text(json.dumps({**card.model_dump(), "base_sha256": "0" * 64}))
    with pytest.raises(AdapterError, match="trained on"):
        load_card(tmp_path)
    (tmp_path / CARD).write_text("{not json")
    with pytest.raises(AdapterError, match="not valid"):
        load_card(tmp_path)
    (tmp_path / WEIGHTS).unlink()
    with pytest.raises(AdapterError, match="missing"):
        load_card(tmp_path)


def test_a_replan_example_reads_like_the_orchestrators_replan_turn(examples):
    example = next(e for e in examples if e.kind == "replan")
    _, messages = PlannerPrompts.load("tuned").messages(example.request)
    turn = messages[-1].content
    assert "What happened:" in turn and format_step(example.request.history[-1].subgoal, vocabulary_specs()) in turn
    assert PlanRequest.model_validate(example.request.model_dump()) == example.request
    assert format_plan(parse_plan(example.plan, vocabulary_specs()), vocabulary_specs()) == example.plan


def test_the_shipped_adapter_card_matches_its_weights():
    from foreman.planner.builtin import DEFAULT_ADAPTER

    card = load_card(DEFAULT_ADAPTER)
    assert card.prompt == "tuned" and card.training["steps"] > 0
    assert Path(DEFAULT_ADAPTER / "adapter_config.json").is_file()


def test_the_run_folder_is_an_adapter_the_planner_loads(trained):
    config, _, _, card = trained

    def lasting(c):  # a resumed run in the same folder (another test) rewrites its own wall time
        dumped = c.model_dump()
        dumped["training"].pop("wall_minutes_this_run")
        return dumped

    assert lasting(load_card(config.out)) == lasting(card)  # `--adapter RUN_FOLDER`: no copy into the package


def test_declared_goals_call_the_skill_of_a_declared_kind_with_the_librarys_cards():
    made = [e for e in generate(replace(RECIPE, declared_fraction=0.5)) if e.kind == "declared"]
    assert len(made) >= 15
    for example in made:
        names = [s.name for s in example.request.skills]
        assert {"close", "put_down", "move_aside"} <= set(names)  # the built-in library's cards, as at run time
        plan = parse_plan(example.plan, example.request.skills)
        assert any(step.kind not in ("go_to", "pick_up", "open", "put_next") for step in plan)
        for step in plan:  # every object the plan names is written in the goal (a put-down names none)
            for desc in (d for s in [step] for d in getattr(s, "arguments", ())):
                assert desc[1].to_text().split(" ", 1)[1] in example.request.goal
