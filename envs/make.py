"""Creating environments by id: every registered BabyAI, MiniGrid and foreman id."""

from __future__ import annotations

import contextlib
import difflib
import io
import logging
from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid and BabyAI ids)

from foreman.errors import ForemanError

logger = logging.getLogger(__name__)

ID_PREFIXES = ("BabyAI-", "MiniGrid-", "Foreman-")


class UnknownEnvError(ForemanError, ValueError):
    """An env id that no registered environment has."""


class EnvUnavailableError(ForemanError):
    """A registered env that cannot be made on this machine (a missing optional dependency, or
    files its package does not ship: minigrid 3.2's WFC worlds lack their pattern images)."""


def registered_env_ids() -> list[str]:
    """Every BabyAI, MiniGrid and foreman env id, sorted."""
    return sorted(i for i in gym.registry if i.startswith(ID_PREFIXES))


class QuietReset(gym.Wrapper):
    """Keeps level generation's chatter off stdout and seeds the first reset.

    BabyAI levels ``print`` a line for every rejected sample while generating a mission; those
    lines go to the ``foreman.envs`` logger at debug level instead. A ``reset()`` without a seed
    uses the seed given to :func:`make_env` the first time, then continues the env's own RNG.
    """

    def __init__(self, env: gym.Env, seed: int | None):
        super().__init__(env)
        self._first_seed = seed

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            seed, self._first_seed = self._first_seed, None
        else:
            self._first_seed = None
        chatter = io.StringIO()
        with contextlib.redirect_stdout(chatter):
            try:
                result = self.env.reset(seed=seed, options=options)
            except (gym.error.DependencyNotInstalled, FileNotFoundError) as error:  # worlds made on reset
                raise EnvUnavailableError(
                    f"{self.spec.id if self.spec else 'this env'} cannot be made here: {error}"
                ) from None
        if chatter.getvalue():
            logger.debug("level generation said:\n%s", chatter.getvalue().rstrip())
        return result


def make_env(env_id: str, seed: int | None = None, **kwargs: Any) -> gym.Env:
    """Make a registered environment; ``kwargs`` go to its constructor (``render_mode``, ...).

    The first ``reset()`` uses ``seed``. An unknown id raises :class:`UnknownEnvError` listing
    the closest registered ids.
    """
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, registered_env_ids(), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownEnvError(f"unknown env id {env_id!r}.{hint} `foreman envs` lists every registered id.")
    try:
        env = gym.make(env_id, **kwargs)
    except (gym.error.DependencyNotInstalled, FileNotFoundError) as error:
        raise EnvUnavailableError(f"{env_id} is registered but cannot be made here: {error}") from None
    if seed is not None:
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
    return QuietReset(env, seed)
