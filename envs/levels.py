"""Finding an episode whose mission is a given goal, for ``foreman run GOAL`` without ``--env``."""

from __future__ import annotations

from foreman.envs.make import make_env
from foreman.envs.mission import GoTo, Instruction, Open, PickUp, PutNext, clauses_in_order, parse_mission
from foreman.errors import ForemanError


class NoMatchingLevelError(ForemanError):
    """No level was found whose mission is the goal."""


def _candidates(instruction: Instruction) -> list[str]:
    clauses = clauses_in_order(instruction)
    if len(clauses) > 1:
        return ["BabyAI-SynthSeq-v0", "BabyAI-BossLevel-v0"]
    clause = clauses[0]
    located = any(getattr(getattr(clause, name, None), "location", None) for name in ("target", "next_to"))
    if isinstance(clause, PutNext):
        return ["BabyAI-PutNextLocal-v0", "BabyAI-BossLevel-v0"]
    if isinstance(clause, PickUp):
        return ["BabyAI-PickupLoc-v0"] if located else ["BabyAI-PickupLoc-v0", "BabyAI-Pickup-v0"]
    if isinstance(clause, Open):
        return ["BabyAI-Open-v0", "BabyAI-BossLevel-v0"]
    assert isinstance(clause, GoTo)
    return ["BabyAI-GoToLocal-v0", "BabyAI-GoTo-v0", "BabyAI-BossLevel-v0"]


def find_level(goal: str, first_seed: int = 0, tries: int = 3000) -> tuple[str, int]:
    """An (env id, seed) whose mission is ``goal`` word for word, searching a few levels' seeds.

    Raises :class:`NoMatchingLevelError` with what to do instead when the goal is not in BabyAI's
    grammar or no seed tried has it as its mission.
    """
    try:
        instruction = parse_mission(goal)
    except ForemanError:
        raise NoMatchingLevelError(
            f"{goal!r} is not a BabyAI mission, so no level can be chosen for it: pass --env ID "
            "(`foreman envs` lists them) and the goal is planned in that level"
        ) from None
    text = instruction.to_text()
    levels = _candidates(instruction)
    for env_id in levels:
        env = make_env(env_id)
        for seed in range(first_seed, first_seed + tries):
            obs, _ = env.reset(seed=seed)
            if obs["mission"] == text:
                return env_id, seed
    raise NoMatchingLevelError(
        f"no seed {first_seed}..{first_seed + tries - 1} of {', '.join(levels)} has the mission {text!r}: "
        "pass --env ID --seed S to run the goal in a level of your choice"
    )
