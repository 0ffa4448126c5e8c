"""What a trace says: success, LLM calls, replans, where things went wrong, and, for sessions,
how tasks fared by their place in the session and which checks judged them.

A failed episode is blamed on execution when one of its subgoals failed or ran out of steps
(a skill did not do what was asked), and on planning when planning failed or every planned
subgoal succeeded and the mission still was not done (the plan asked for the wrong thing).
"""

from __future__ import annotations

import statistics
from typing import Any

from foreman.traces.events import EpisodeEnd, EpisodeStart, Event, PlanMade, SubgoalEnd, SubgoalStart
from foreman.traces.file import episodes


def records(events: list[Event]) -> list[dict[str, Any]]:
    """One plain record per event, with the episode's env id and seed on each (a table's rows)."""
    context: dict[int, dict[str, Any]] = {}
    rows = []
    for event in events:
        if isinstance(event, EpisodeStart):
            context[event.episode] = {"env_id": event.env_id, "seed": event.seed}
        rows.append(context.get(event.episode, {}) | event.model_dump())
    return rows


def dataframe(events: list[Event]):
    """:func:`records` as a pandas DataFrame (needs pandas installed)."""
    import pandas

    return pandas.DataFrame(records(events))


def _blame(events: list[Event]) -> str | None:
    end = next((e for e in events if isinstance(e, EpisodeEnd)), None)
    if end is None or end.success:
        return None
    plans = [e for e in events if isinstance(e, PlanMade)]
    if any(isinstance(e, SubgoalEnd) and e.status != "succeeded" for e in events):
        return "execution"
    if end.end_reason == "planning failed" or (plans and plans[-1].plan is None):
        return "planning"
    return "planning" if plans else "other"


def summary(events: list[Event]) -> dict[str, Any]:
    """Counts over every finished episode in ``events``; unfinished ones are counted apart."""
    by_episode = episodes(events)
    ends = {k: next((e for e in v if isinstance(e, EpisodeEnd)), None) for k, v in by_episode.items()}
    finished = {k: e for k, e in ends.items() if e is not None}
    by_skill: dict[str, dict[str, int]] = {}
    by_step: dict[int, dict[str, int]] = {}
    blame = {"planning": 0, "execution": 0, "other": 0}
    for number, evs in by_episode.items():
        if number not in finished:
            continue
        step_of = {e.index: e.plan_step for e in evs if isinstance(e, SubgoalStart)}
        for event in evs:
            if isinstance(event, SubgoalEnd):
                by_skill.setdefault(event.skill, {}).setdefault(event.status, 0)
                by_skill[event.skill][event.status] += 1
                if event.status != "succeeded":
                    counts = by_step.setdefault(step_of.get(event.index, -1), {})
                    counts[event.status] = counts.get(event.status, 0) + 1
        cause = _blame(evs)
        if cause:
            blame[cause] += 1
    values = list(finished.values())
    place = {k: next((e.task for e in v if isinstance(e, EpisodeStart)), 0) for k, v in by_episode.items()}
    by_task: dict[int, dict[str, Any]] = {}
    for number, end in finished.items():
        counts = by_task.setdefault(place[number], {"tasks": 0, "done": 0})
        counts["tasks"] += 1
        counts["done"] += end.success
    return {
        "episodes": len(values),
        "unfinished_episodes": sorted(k for k in by_episode if k not in finished),
        "success_rate": sum(e.success for e in values) / len(values) if values else 0.0,
        "median_llm_calls": statistics.median(e.llm_calls for e in values) if values else 0,
        "mean_replans": statistics.fmean(e.replans for e in values) if values else 0.0,
        "end_reasons": {r: sum(e.end_reason == r for e in values) for r in sorted({e.end_reason for e in values})},
        "failed_episodes_blamed_on": blame,
        "subgoals_by_skill": by_skill,
        "failed_subgoals_by_plan_step": dict(sorted(by_step.items())),
        "by_place_in_session": dict(sorted(by_task.items())),
        "checks": {c: sum(e.check == c for e in values) for c in ("env", "verifier", "plan")},
        "mission_done": sum(e.mission_done for e in values),
    }
