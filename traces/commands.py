"""``foreman trace replay | summary | html``: reading a trace after the fact."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foreman.errors import ForemanError
from foreman.traces.file import TraceError, TraceRead, episodes, read_trace
from foreman.traces.replay import replay, session_of, write_gif

POSITIONAL = {"positional": True}


def readable(path: Path) -> TraceRead:
    """The trace's events, its problems (a line cut short, ...) reported; an error if none is readable."""
    read = read_trace(path)
    if not read.events:
        raise TraceError(f"{path} holds no readable event")
    return read


@dataclass(frozen=True)
class ReplayConfig:
    trace: Path = field(metadata=POSITIONAL)
    episode: int | None = None
    """only this episode (default: every one)"""
    gif: Path | None = None
    """write the (last) replayed episode as an animated GIF here"""


def replay_trace(config: ReplayConfig) -> dict[str, Any]:
    """Re-run each episode's recorded actions from its seed (after its session's earlier tasks) and
    check the world ends the same way."""
    read = readable(config.trace)
    grouped = episodes(read.events)
    if config.episode is not None and config.episode not in grouped:
        raise ForemanError(f"{config.trace} has no episode {config.episode}; it has {min(grouped)}..{max(grouped)}")
    results = []
    for number in [config.episode] if config.episode is not None else list(grouped):
        replayed = replay(grouped[number], frames=bool(config.gif), every_step=True, before=session_of(grouped, number))
        if config.gif:
            write_gif(replayed.frames, config.gif)
        results.append(
            {"episode": number, "matches": replayed.matches, "mismatches": replayed.mismatches, "steps": replayed.steps}
        )
    matched = sum(r["matches"] for r in results)
    return {
        "episodes": len(results),
        "reproduced": matched,
        "ok": matched == len(results),
        "per_episode": results,
        "problems": read.problems,
    }


def replay_trace_text(result: dict[str, Any]) -> str:
    lines = [f"warning: {problem}" for problem in result["problems"]]
    for r in result["per_episode"]:
        lines.append(f"episode {r['episode']}: " + ("reproduced" if r["matches"] else "; ".join(r["mismatches"])))
    lines.append(f"{result['reproduced']}/{result['episodes']} episodes reproduced")
    return "\n".join(lines)


@dataclass(frozen=True)
class SummaryConfig:
    traces: list[Path] = field(metadata=POSITIONAL)
    """one or more trace files (their episodes are numbered apart)"""


def summarise_traces(config: SummaryConfig) -> dict[str, Any]:
    """Success, LLM calls, replans, failures by skill and plan step, planning vs execution."""
    from foreman.traces.summary import summary

    events = []
    for number, path in enumerate(config.traces):
        for event in readable(path).events:
            events.append(event.model_copy(update={"episode": number * 1_000_000 + event.episode}))
    return summary(events)


def summarise_traces_text(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1)


@dataclass(frozen=True)
class HtmlConfig:
    trace: Path = field(metadata=POSITIONAL)
    output: Path = field(default=Path("report.html"), metadata={"flags": ("-o", "--output")})
    """the HTML file to write"""
    frames: bool = True
    """render frames of the world at each subgoal's end"""


def trace_html(config: HtmlConfig) -> dict[str, Any]:
    """One self-contained HTML page: plans, timeline, prompts, frames."""
    from foreman.traces.html import render_html

    read = readable(config.trace)
    config.output.write_text(render_html(read.events, read.problems, frames=config.frames, title=config.trace.name))
    return {"output": str(config.output), "episodes": len(episodes(read.events)), "problems": read.problems}


def trace_html_text(result: dict[str, Any]) -> str:
    return f"wrote {result['output']}"
