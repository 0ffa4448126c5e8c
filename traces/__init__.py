"""Planning traces: what the agent decided and why, one JSON line per event.

Sits on top of the orchestrator's floor: the orchestrator writes events, and the tools here
read, replay, summarise and render them.
"""

from foreman.traces.events import (
    TRACE_VERSION,
    Attempt,
    EpisodeEnd,
    EpisodeStart,
    Event,
    Feedback,
    PlanMade,
    SubgoalEnd,
    SubgoalStart,
)
from foreman.traces.file import TraceBuffer, TraceError, TraceRead, TraceSink, TraceWriter, episodes, read_trace

__all__ = [
    "TRACE_VERSION",
    "Attempt",
    "EpisodeEnd",
    "EpisodeStart",
    "Event",
    "Feedback",
    "PlanMade",
    "SubgoalEnd",
    "SubgoalStart",
    "TraceBuffer",
    "TraceError",
    "TraceRead",
    "TraceSink",
    "TraceWriter",
    "episodes",
    "read_trace",
]
