import pickle

import numpy as np
import pytest

from foreman.envs import EnvUnavailableError, UnknownEnvError, make_env, registered_env_ids

# The wave-function-collapse levels need the optional minigrid[wfc] packages and pattern images
# that minigrid 3.2's wheel and sdist do not ship: upstream cannot make them, and neither can we,
# but we say so in a clear error.
WFC_BROKEN = pytest.mark.xfail(raises=EnvUnavailableError, strict=True)


@pytest.mark.parametrize(
    "env_id",
    [pytest.param(i, marks=WFC_BROKEN) if i.startswith("MiniGrid-WFC-") else i for i in registered_env_ids()],
)
def test_every_registered_id_makes_and_steps(env_id):
    env = make_env(env_id, seed=0)
    obs, _ = env.reset()
    assert {"image", "direction", "mission"} <= set(obs)
    assert obs["image"].shape == env.observation_space["image"].shape
    env.step(env.action_space.sample())
    env.close()


def test_registry_covers_babyai_minigrid_and_foreman():
    ids = registered_env_ids()
    assert "BabyAI-BossLevel-v0" in ids and "MiniGrid-DoorKey-8x8-v0" in ids
    assert "Foreman-GoToLocal-v0" in ids
    assert len(ids) > 150


def test_level_generation_chatter_stays_off_stdout(capfd):
    env = make_env("BabyAI-BossLevel-v0", seed=0)
    for seed in range(30):  # some of these seeds reject samples while generating
        env.reset(seed=seed)
    out = capfd.readouterr().out
    assert "Sampling rejected" not in out


def test_unknown_id_lists_close_matches():
    with pytest.raises(UnknownEnvError) as err:
        make_env("BabyAI-BossLevl-v0")
    assert "BabyAI-BossLevel-v0" in str(err.value)


def test_unknown_id_without_any_close_match():
    with pytest.raises(UnknownEnvError, match="unknown env id 'zzz'"):
        make_env("zzz")


def test_seed_given_to_make_env_fixes_the_first_reset():
    a, _ = make_env("BabyAI-BossLevel-v0", seed=7).reset()
    b, _ = make_env("BabyAI-BossLevel-v0", seed=7).reset()
    c, _ = make_env("BabyAI-BossLevel-v0", seed=8).reset()
    assert a["mission"] == b["mission"] and np.array_equal(a["image"], b["image"])
    assert a["mission"] != c["mission"] or not np.array_equal(a["image"], c["image"])


def test_made_env_pickles():
    env = make_env("BabyAI-GoToLocal-v0", seed=1)
    env.reset()
    clone = pickle.loads(pickle.dumps(env))
    for action in (2, 1, 2, 0, 2):
        a = env.step(action)
        b = clone.step(action)
        assert np.array_equal(a[0]["image"], b[0]["image"]) and a[1:4] == b[1:4]
