"""Writing and reading trace files.

The writer appends one line per event and flushes it at once, so a killed process loses at most
the event it was writing (a cut-off last line), and a later run can append more episodes. The
reader parses line by line: a line that does not parse (cut short, unknown version, missing
fields) is reported with its number, and every line that does parse is still returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from pydantic import TypeAdapter, ValidationError

from foreman.errors import ForemanError
from foreman.traces.events import EVENT_NAMES, TRACE_VERSION, Event

_EVENT = TypeAdapter(Event)


class TraceError(ForemanError):
    """A trace file that cannot be read, or a line of one that does not parse."""


class TraceWriter:
    """Appends events to a JSON Lines file; use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        if self._file.tell() and not self.path.read_bytes().endswith(b"\n"):
            self._file.write("\n")  # a line cut short by a kill stays on its own line

    def write(self, event: Event) -> None:
        self._file.write(event.model_dump_json() + "\n")
        self._file.flush()

    def extend(self, lines: list[str]) -> None:
        """Append events already written as JSON lines (a :class:`TraceBuffer`'s, from a worker)."""
        self._file.write("".join(line + "\n" for line in lines))
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *_) -> None:
        self.close()


class TraceSink(Protocol):
    """Where the orchestrator writes events: a :class:`TraceWriter` or a :class:`TraceBuffer`."""

    def write(self, event: Event) -> None: ...


class TraceBuffer:
    """Holds an episode's events as JSON lines in memory, for a worker to hand to the run's writer:
    the trace then gets whole episodes only, in the order they finish."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, event: Event) -> None:
        self.lines.append(event.model_dump_json())


@dataclass
class TraceRead:
    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """one message per line that did not parse, naming the file and line"""


def _problem(line: str) -> str:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not JSON (cut short?): {error.msg} at column {error.colno}"
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("v") != TRACE_VERSION:
        return f"trace version {data.get('v')!r}; this foreman reads version {TRACE_VERSION}"
    if data.get("event") not in EVENT_NAMES:
        return f"unknown event {data.get('event')!r}; expected one of {', '.join(EVENT_NAMES)}"
    try:
        _EVENT.validate_python(data)
    except ValidationError as error:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
        return f"invalid {data['event']} event: {fields}"
    return ""


def read_trace(path: Path) -> TraceRead:
    """Every event that parses, and a message for every line that does not."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise TraceError(f"cannot read trace {path}: {error.strerror}") from None
    read = TraceRead()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        problem = _problem(line)
        if problem:
            read.problems.append(f"{path}:{number}: {problem}")
        else:
            read.events.append(_EVENT.validate_json(line))
    return read


def episodes(events: list[Event]) -> dict[int, list[Event]]:
    """Events grouped by episode number, in file order.

    An episode that starts again (a resumed eval re-runs the episode a kill interrupted) keeps
    only its last run's events.
    """
    grouped: dict[int, list[Event]] = {}
    for event in events:
        if event.event == "episode_start":
            grouped[event.episode] = []
        grouped.setdefault(event.episode, []).append(event)
    return grouped
