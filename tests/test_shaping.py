"""PPO's potential-based shaping: it must leave every episode's discounted return as it was up to
a constant of its start, or it would change which policy is best (Ng et al. 1999)."""

import numpy as np
import pytest

from foreman.envs import COLORS, AgentMemory, GoTo, ObjectDesc, make_env
from foreman.skills.network import SkillNetwork
from foreman.skills.observation import VECTOR, carrying_target, observe
from foreman.skills.ppo import _TARGET_ROUTE, Sampler, route_potential, shape

GAMMA = 0.99


def _vectors(lengths: list[float | None]) -> np.ndarray:
    """Observation vectors whose target route is ``length`` (route length / 20) or unknown (None)."""
    vectors = np.zeros((len(lengths), 1, VECTOR), np.float32)
    for t, length in enumerate(lengths):
        if length is not None:
            vectors[t, 0, _TARGET_ROUTE : _TARGET_ROUTE + 2] = 1.0, length
    return vectors


def _rollout(lengths: list[float | None], end: str, following: float | None) -> dict[str, np.ndarray]:
    """One env's steps; the last one ends the episode ``end`` ("terminated", "truncated") or not ("")."""
    steps = len(lengths)
    done = np.zeros((steps, 1), np.float32)
    terminated = np.zeros((steps, 1), np.float32)
    done[-1] = end != ""
    terminated[-1] = end == "terminated"
    return {
        "vector": _vectors(lengths),
        "reward": np.zeros((steps, 1), np.float32),
        "done": done,
        "terminated": terminated,
        "next_potential": route_potential(_vectors([following])[0]),
    }


def test_the_potential_is_minus_the_known_route_to_the_target_and_lowest_when_none_is_known():
    potential = route_potential(_vectors([0.0, 0.25, None, 7.0])[:, 0])
    np.testing.assert_allclose(potential, [0.0, -0.25, -2.0, -2.0])


@pytest.mark.parametrize("seed", range(5))
def test_an_episode_that_ends_gets_shaping_worth_minus_its_first_potential_whatever_its_path(seed):
    rng = np.random.default_rng(seed)
    lengths = [None if rng.random() < 0.3 else float(rng.uniform(0, 3)) for _ in range(int(rng.integers(2, 40)))]
    shaped = shape(_rollout(lengths, "terminated", following=0.5), weight=0.5, gamma=GAMMA)[:, 0]
    discounted = sum(GAMMA**t * r for t, r in enumerate(shaped))
    assert discounted == pytest.approx(-0.5 * route_potential(_vectors(lengths[:1]))[0, 0], abs=1e-5)


def test_a_time_out_far_from_the_target_is_not_paid_back_its_shaping():
    far = [None, None, None]
    shaped = shape(_rollout(far, "truncated", following=0.0), weight=0.5, gamma=GAMMA)[:, 0]
    assert shaped[-1] == pytest.approx(0.5 * (GAMMA - 1) * -2.0)
    ended = shape(_rollout(far, "terminated", following=0.0), weight=0.5, gamma=GAMMA)[:, 0]
    assert ended[-1] == pytest.approx(1.0)  # a true end has potential 0: -phi, as the telescoping needs


def test_a_step_closer_to_the_target_is_rewarded_and_a_step_away_is_not():
    closer = shape(_rollout([0.5, 0.45], "", following=0.4), weight=1.0, gamma=GAMMA)[:, 0]
    away = shape(_rollout([0.5, 0.55], "", following=0.6), weight=1.0, gamma=GAMMA)[:, 0]
    assert (closer > 0).all() and (away < 0).all()


def test_without_weight_the_rewards_are_the_checks_own():
    rollout = Sampler("Foreman-GoToLocal-v0", range(3, 6)).collect(SkillNetwork(hidden=32), 40)
    assert rollout["terminated"].sum() <= rollout["done"].sum()
    np.testing.assert_array_equal(shape(rollout, 0.0, GAMMA), rollout["reward"])
    assert shape(rollout, 0.5, GAMMA).shape == rollout["reward"].shape


def test_the_target_in_hand_counts_as_reached_whatever_its_route():
    env = make_env("Foreman-DropLocal-v0")
    obs, _ = env.reset(seed=4)
    memory = AgentMemory()
    memory.observe(obs)
    held = env.unwrapped.carrying
    other = next(c for c in COLORS if c != held.color)
    described = {
        "same": ObjectDesc(color=held.color, type=held.type),
        "any colour": ObjectDesc(type=held.type),
        "other colour": ObjectDesc(color=other, type=held.type),
        "other type": ObjectDesc(color=held.color, type="door"),
    }
    carried = {k: bool(carrying_target(observe(memory, GoTo(target=d))["vector"])) for k, d in described.items()}
    assert carried == {"same": True, "any colour": True, "other colour": False, "other type": False}
    assert route_potential(observe(memory, GoTo(target=described["same"]))["vector"]) == 0.0
