"""Replay a recorded episode: re-run its actions from its seed and check the env ends the same way.

Only the actions are replayed (no planner, no skills), so a replay is fast and shows whether an
episode is reproducible from its trace. Frames can be rendered at subgoal boundaries on the way.
"""

from __future__ import annotations

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


def replay(events: list[Event], frames: bool = False, every_step: bool = False) -> Replay:
    """Re-run one episode's recorded actions; compare success, reward and steps with its end."""
    start = next((e for e in events if isinstance(e, EpisodeStart)), None)
    end = next((e for e in events if isinstance(e, EpisodeEnd)), None)
    if start is None:
        raise TraceError(f"episode {events[0].episode if events else '?'} has no episode_start event")
    env = make_env(start.env_id, render_mode="rgb_array" if frames else None, **start.env_kwargs)
    env.reset(seed=start.seed)
    pictures = [env.render()] if frames else []
    reward, steps, done = 0.0, 0, False
    for event in events:
        if not isinstance(event, SubgoalEnd):
            continue
        for action in event.actions:
            if done:
                break
            _, reward, terminated, truncated, _ = env.step(action)
            steps += 1
            done = terminated or truncated
            if every_step and frames:
                pictures.append(env.render())
        if frames and not every_step:
            pictures.append(env.render())
    success = bool(done and reward > 0)
    mismatches = []
    if end is None:
        mismatches.append("the episode has no episode_end event (cut short?)")
    else:
        if success != end.success:
            mismatches.append(f"success: recorded {end.success}, replayed {success}")
        if steps != end.steps:
            mismatches.append(f"steps: recorded {end.steps}, replayed {steps}")
        if abs(reward - end.reward) > 1e-6:
            mismatches.append(f"reward: recorded {end.reward:.4f}, replayed {reward:.4f}")
    return Replay(start.episode, not mismatches, mismatches, success, float(reward), steps, pictures)
