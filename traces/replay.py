"""Replay a recorded episode: re-run its actions from its seed and check the world ends the same way.

Only the actions are replayed (no planner, no skills), so a replay is fast and shows whether an
episode is reproducible from its trace. Frames can be rendered at subgoal boundaries on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foreman.envs import make_env
from foreman.traces.events import EpisodeEnd, EpisodeStart, Event, SubgoalEnd
from foreman.traces.file import TraceError


@dataclass
class Replay:
    episode: int
    matches: bool
    mismatches: list[str]
    success: bool
    reward: float
    steps: int
    frames: list[np.ndarray] = field(default_factory=list)
    """RGB frames: the start, then the end of each subgoal (when asked for)"""


def write_gif(frames: list[np.ndarray], path: Path) -> None:
    """The frames as an animated GIF (120 ms a frame, looping)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)


def replay(
    events: list[Event], frames: bool = False, every_step: bool = False, before: Sequence[list[Event]] = ()
) -> Replay:
    """Re-run one episode's recorded actions; compare the world's reward, whether its mission got
    done, and the steps with the episode's end.

    A task after the first of a session goes on in the world its session left: ``before`` are
    the session's earlier tasks, replayed first (see :func:`session_of`).
    """
    start = next((e for e in events if isinstance(e, EpisodeStart)), None)
    end = next((e for e in events if isinstance(e, EpisodeEnd)), None)
    if start is None:
        raise TraceError(f"episode {events[0].episode if events else '?'} has no episode_start event")
    first = next((e for e in before[0] if isinstance(e, EpisodeStart)), start) if before else start
    env = make_env(start.env_id, render_mode="rgb_array" if frames else None, **start.env_kwargs)
    env.reset(seed=first.seed)
    for earlier in before:
        for action in _actions(earlier):
            env.step(action)
    pictures = [env.render()] if frames else []
    reward, steps, mission_done = 0.0, 0, False
    for event in events:
        if not isinstance(event, SubgoalEnd):
            continue
        for action in event.actions:
            _, stepped, terminated, _, _ = env.step(action)
            reward = float(stepped)
            mission_done |= terminated and reward > 0
            steps += 1
            if every_step and frames:
                pictures.append(env.render())
        if frames and not every_step:
            pictures.append(env.render())
    mismatches = []
    if end is None:
        mismatches.append("the episode has no episode_end event (cut short?)")
    else:
        if "mission_done" in end.model_fields_set and mission_done != end.mission_done:
            mismatches.append(f"the world's mission done: recorded {end.mission_done}, replayed {mission_done}")
        # judged by the world (and every trace from before tasks had their own checks)
        by_world = end.check == "env" or "mission_done" not in end.model_fields_set
        if by_world and end.success != mission_done:
            mismatches.append(f"success: recorded {end.success}, replayed {mission_done}")
        if steps != end.steps:
            mismatches.append(f"steps: recorded {end.steps}, replayed {steps}")
        if abs(reward - end.reward) > 1e-6:
            mismatches.append(f"reward: recorded {end.reward:.4f}, replayed {reward:.4f}")
    success = end.success if end is not None else False
    return Replay(start.episode, not mismatches, mismatches, success, reward, steps, pictures)


def _actions(events: list[Event]) -> list[int]:
    return [a for e in events if isinstance(e, SubgoalEnd) for a in e.actions]


def session_of(episodes: dict[int, list[Event]], number: int) -> list[list[Event]]:
    """The earlier tasks of episode ``number``'s session, oldest first: the episodes before it
    back to the last one that started its world afresh (``task`` 0)."""
    start = next((e for e in episodes[number] if isinstance(e, EpisodeStart)), None)
    if start is None or start.task == 0:
        return []
    earlier = sorted(k for k in episodes if k < number)[-start.task :]
    return [episodes[k] for k in earlier]
