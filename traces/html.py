"""One self-contained HTML report of a trace: no network, no scripts from elsewhere.

Per episode: the goal and mission, each plan (initial and replans, with why), the subgoals on
a timeline sized by their steps and coloured by outcome, the prompts and raw model outputs in
folded sections, and frames of the grid at the start and at every subgoal's end, replayed from
the recorded actions.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from PIL import Image

from foreman.traces.events import EpisodeEnd, EpisodeStart, Event, Feedback, PlanMade, SubgoalEnd
from foreman.traces.file import episodes
from foreman.traces.replay import replay, session_of

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
section.episode{border:1px solid #ccc;border-radius:6px;padding:1em;margin-bottom:1.5em}
h2{margin:.2em 0}.ok{color:#17702b}.bad{color:#b3261e}
.timeline{display:flex;height:28px;margin:.5em 0;border:1px solid #999}
.timeline div{overflow:hidden;white-space:nowrap;font-size:11px;padding:2px;border-right:1px solid #fff}
.succeeded{background:#9fd8a8}.stopped{background:#c5e3f6}.failed{background:#f3a19b}.ran-out-of-steps{background:#f6d58b}
.frames{display:flex;gap:6px;overflow-x:auto}.frames figure{margin:0;text-align:center;font-size:11px}
.frames img{width:160px;image-rendering:pixelated;border:1px solid #999}
pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap}
ol.plan li{font-family:monospace}
"""


def _png(frame, width: int = 320) -> str:
    image = Image.fromarray(frame)
    image = image.resize((width, round(width * image.height / image.width)), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _e(text) -> str:
    return html.escape(str(text))


def _episode(number: int, events: list[Event], frames: bool, before: Sequence[list[Event]] = ()) -> str:
    start = next((e for e in events if isinstance(e, EpisodeStart)), None)
    end = next((e for e in events if isinstance(e, EpisodeEnd)), None)
    parts = [f'<section class="episode" id="episode-{number}">']
    if start is not None:
        task = f" (task {start.task + 1} of its session, in the world as the last task left it)" if start.task else ""
        parts.append(f"<h2>Episode {number}: {_e(start.goal)}{task}</h2>")
        parts.append(
            f"<p>Env <code>{_e(start.env_id)}</code>, seed {_e(start.seed)}; mission: <em>{_e(start.mission)}</em>"
            f"<br>Planner: {_e(start.planner)}</p>"
        )
    if end is not None:
        verdict = '<b class="ok">success</b>' if end.success else '<b class="bad">failure</b>'
        parts.append(
            f'<p class="result">{verdict}: {_e(end.end_reason)}'
            f"{'; judged by ' + _e(end.check) if end.check else ''}; {end.steps} steps, {end.llm_calls} LLM calls, "
            f"{end.replans} replans, {end.wall_s:.2f} s; the world's own mission "
            f"{'done' if end.mission_done else 'not done'}</p>"
        )
    else:
        parts.append('<p class="result bad">unfinished: the trace ends before this episode did</p>')
    for event in events:
        if isinstance(event, PlanMade):
            title = "Plan" if event.reason == "initial" else f"Replan ({_e(event.why)})"
            steps = "".join(f"<li>{_e(s)}</li>" for s in event.plan or [])
            failure = f'<p class="bad">planning failed: {_e(event.failure)}</p>' if event.failure else ""
            if event.refusal:
                failure += f'<p class="bad">refused: {_e(event.refusal)}</p>'

            attempts = "".join(
                f"<p>Attempt {i + 1} ({a.latency_s:.2f} s, {a.prompt_tokens}+{a.completion_tokens} tokens)"
                f"{' rejected: ' + _e(a.error) if a.error else ''}</p><pre>{_e(a.raw)}</pre>"
                for i, a in enumerate(event.attempts)
            )
            parts.append(
                f'<div class="plan"><h3>{title}</h3><ol class="plan">{steps}</ol>{failure}'
                f"<details><summary>prompt ({_e(event.template)}, sha256 {event.prompt_sha256[:12]}) and raw "
                f"output</summary><pre>{_e(event.user_message)}</pre>{attempts}</details></div>"
            )
        elif isinstance(event, Feedback):
            parts.append(f'<p class="feedback">Feedback: {_e(event.text)}</p>')
    ends = [e for e in events if isinstance(e, SubgoalEnd)]
    if ends:
        total = max(1, sum(max(1, e.steps) for e in ends))
        cells = "".join(
            f'<div class="{e.status.replace(" ", "-")}" style="flex:{max(1, e.steps) / total:.4f}" '
            f'title="{_e(e.subgoal)}: {_e(e.status)} in {e.steps} steps {_e(e.reason)}">{_e(e.subgoal)}</div>'
            for e in ends
        )
        parts.append(f'<div class="timeline">{cells}</div>')
    if frames and start is not None:
        replayed = replay(events, frames=True, before=before)
        captions = ["start"] + [f"after {e.subgoal} ({e.status})" for e in ends]
        figures = "".join(
            f'<figure><img src="{_png(f)}" alt="{_e(c)}"><figcaption>{_e(c)}</figcaption></figure>'
            for f, c in zip(replayed.frames, captions, strict=False)
        )
        parts.append(f'<div class="frames">{figures}</div>')
        if not replayed.matches:
            parts.append(f'<p class="bad">replay differs: {_e("; ".join(replayed.mismatches))}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def render_html(events: list[Event], problems: Sequence[str] = (), frames: bool = True, title: str = "trace") -> str:
    """The report as one HTML string; ``problems`` (unreadable lines) are listed at the top."""
    body = []
    if problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in problems)
        body.append(f'<div class="problems bad"><p>Lines that could not be read:</p><ul>{items}</ul></div>')
    grouped = episodes(events)
    for number, evs in grouped.items():
        body.append(_episode(number, evs, frames, session_of(grouped, number)))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>foreman trace: {_e(title)}</h1>{''.join(body)}</body></html>"
    )
