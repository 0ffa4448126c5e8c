"""SayCan-style planning: score every candidate skill call instead of letting the model write one.

Each step, every call the skills admit with object descriptions copied from the goal and the
feedback is a candidate; the language model scores how likely it is to write that line next
(its tokens and the line's end, a newline or the end of its turn: without the end, short
candidates would win), and the skill's affordance (its critic's estimate of completing the
subgoal from the current state, ``PlanRequest.affordance``) multiplies in, as in SayCan (Ahn et
al., 2022). The plan ends after the chosen line when the model would rather end its turn there
than write another line (SayCan's "done" candidate, in this plan format).

The affordance is measured in the current state, so it weighs the first step only: later steps
start from states the plan has not reached yet (the orchestrator replans from the real state when
a step fails). Without an affordance the mode is the language model's likelihood alone.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

from foreman.envs import Subgoal, parse_object
from foreman.envs.kinds import fits
from foreman.planner.llm import PlanAttempt, PlannerPrompts, PlanRequest, PlanResult, open_result, said_phrases
from foreman.planner.plan import MAX_PLAN_STEPS, SkillSpec, parse_plan
from foreman.planner.screen import ContinuationScorer, GoalScreen

END_OF_TURN = "<|im_end|>"
AFFORDANCE_FLOOR = 0.05
"""an affordance below this counts as this: a critic's near-zero should demote a call, not veto it"""


def candidate_calls(specs: Sequence[SkillSpec], phrases: Sequence[str]) -> list[str]:
    """Every call of every skill whose arguments are distinct phrases that fit them."""
    parsed = {p: parse_object(p) for p in phrases}
    calls = []
    for spec in specs:
        options = [[p for p in phrases if fits(t, parsed[p])] for _, t in spec.arguments()]
        for args in itertools.product(*options):
            if len(set(args)) == len(args):
                calls.append(f"{spec.name}({', '.join(args)})")
    return calls


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


class SayCanPlanner:
    """Plans by scoring candidate calls with a :class:`ContinuationScorer` times affordances."""

    def __init__(
        self,
        scorer: ContinuationScorer,
        prompts: PlannerPrompts | None = None,
        max_steps: int = 6,
        screen: GoalScreen | None = None,
    ):
        self.scorer = scorer
        self.screen = screen
        self.prompts = prompts or PlannerPrompts.load("tuned")
        self.max_steps = min(max_steps, MAX_PLAN_STEPS)

    @property
    def identity(self) -> str:
        return f"saycan {type(self.scorer).__name__}({getattr(self.scorer, 'name', '')}) max_steps={self.max_steps}"

    def plan(self, request: PlanRequest) -> PlanResult:
        template, messages = self.prompts.messages(request)
        result = open_result(request, f"saycan {template}", messages, self.screen)
        if result.refusal:
            return result
        calls = candidate_calls(request.skills, said_phrases(request))
        if not calls:
            result.failure = "no skill call can be made from the object descriptions in the goal and the feedback"
            return result
        started, evaluated = time.perf_counter(), getattr(self.scorer, "evaluated_tokens", 0)
        first = self._affordances(calls, request)
        lines: list[str] = []
        while len(lines) < self.max_steps:
            prefix = "".join(f"{line}\n" for line in lines)
            logprobs = self.scorer.score(messages, prefix, [c + end for c in calls for end in ("\n", END_OF_TURN)])
            more, last = logprobs[0::2], logprobs[1::2]
            scores = [_logsumexp(pair) for pair in zip(more, last, strict=True)]
            if not lines:
                scores = [s + math.log(a) for s, a in zip(scores, first, strict=True)]
            best = max(range(len(calls)), key=scores.__getitem__)
            lines.append(calls[best])
            if last[best] > more[best]:  # the model would end its turn after this line
                break
        text = "\n".join(lines)
        tokens = getattr(self.scorer, "evaluated_tokens", 0) - evaluated
        result.attempts.append(PlanAttempt(raw=text, latency_s=time.perf_counter() - started, prompt_tokens=tokens))
        result.plan = parse_plan(text, request.skills)
        return result

    @staticmethod
    def _affordances(calls: list[str], request: PlanRequest) -> list[float]:
        if request.affordance is None:
            return [1.0] * len(calls)
        values = []
        for call in calls:
            subgoal: Subgoal = parse_plan(call, request.skills)[0]
            value = request.affordance(subgoal)
            values.append(1.0 if value is None else min(1.0, max(AFFORDANCE_FLOOR, value)))
        return values
