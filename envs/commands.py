"""``foreman envs``, ``foreman parse`` and ``foreman describe``: the worlds and their missions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from foreman.envs.describe import AgentMemory
from foreman.envs.make import make_env, registered_env_ids
from foreman.envs.mission import Instruction, clauses_in_order, parse_mission

_INSTRUCTION: TypeAdapter[Instruction] = TypeAdapter(Instruction)


@dataclass(frozen=True)
class EnvsConfig:
    prefix: str | None = None
    """only ids starting with this, e.g. Foreman-"""


def list_envs(config: EnvsConfig) -> list[str]:
    return [i for i in registered_env_ids() if config.prefix is None or i.startswith(config.prefix)]


def list_envs_text(ids: list[str]) -> str:
    return "\n".join(ids)


@dataclass(frozen=True)
class ParseConfig:
    mission: str = field(metadata={"positional": True})
    """a mission in BabyAI's language, e.g. "open a door after you go to the red ball\""""


def parse(config: ParseConfig) -> dict[str, Any]:
    """The mission's instruction tree, and its clauses in an order that satisfies it."""
    instr = parse_mission(config.mission)
    return {
        "instruction": _INSTRUCTION.dump_python(instr, mode="json"),
        "clauses": [clause.to_text() for clause in clauses_in_order(instr)],
    }


def parse_text(result: dict[str, Any]) -> str:
    return "\n".join(f"{number}. {clause}" for number, clause in enumerate(result["clauses"], 1))


@dataclass(frozen=True)
class DescribeConfig:
    env: str = "BabyAI-BossLevel-v0"
    """a registered env id"""
    seed: int = 1


def describe(config: DescribeConfig) -> dict[str, Any]:
    """An env's mission, its clauses, and what the agent knows from its first observation."""
    obs, _ = make_env(config.env, seed=config.seed).reset()
    memory = AgentMemory()
    memory.observe(obs)
    instr = parse_mission(obs["mission"])
    return {
        "env_id": config.env,
        "seed": config.seed,
        "mission": obs["mission"],
        "instruction": _INSTRUCTION.dump_python(instr, mode="json"),
        "clauses": [clause.to_text() for clause in clauses_in_order(instr)],
        "description": memory.describe(),
    }


def describe_text(result: dict[str, Any]) -> str:
    lines = [f"{result['env_id']}, seed {result['seed']}", f"Mission: {result['mission']}"]
    lines.append("Clauses in an order that satisfies it:")
    lines += [f"  {number}. {clause}" for number, clause in enumerate(result["clauses"], 1)]
    lines.append("What the agent knows at the start:")
    lines.append("  " + result["description"].replace("\n", "\n  "))
    return "\n".join(lines)
