"""The language-model planner: prompt files | any LangChain chat model | plan parser.

The loop it belongs to (see ``orchestrator.py``)::

    result = planner.plan(PlanRequest(goal, observation, skills))        # initial plan
    ... run the subgoals; one fails ...
    result = planner.plan(PlanRequest(goal, observation, skills, history))  # replan

Model output is validated against the skill cards always, and constrained by a grammar where the
model allows it (:class:`LlamaCppChat`). Invalid output is shown back to the model with the error,
at most ``max_retries`` times; then the result is a recorded planning failure, never an exception
and never an unknown skill reaching the env.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompts import PromptTemplate
from pydantic import BaseModel, ConfigDict, Field

from foreman.envs import Subgoal
from foreman.envs.tasks import instruction_of
from foreman.planner.llama_chat import LlamaCppChat
from foreman.planner.plan import (
    PlanParser,
    SkillSpec,
    format_step,
    misread_puts,
    noun_phrases,
    plan_grammar,
    unplanned,
    unsaid,
)
from foreman.planner.retrieval import SkillRetriever
from foreman.planner.screen import GoalScreen

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
MAX_GOAL_CHARS = 500


class SubgoalOutcome(BaseModel):
    """What happened to one subgoal, as the orchestrator reports it back to the planner."""

    model_config = ConfigDict(frozen=True)

    subgoal: Subgoal
    status: Literal["succeeded", "failed", "ran out of steps", "stopped"]
    reason: str = ""


class PlanRequest(BaseModel):
    goal: str
    skills: list[SkillSpec]
    observation: str = ""
    history: list[SubgoalOutcome] = Field(default_factory=list)
    affordance: Callable[[Subgoal], float | None] | None = Field(default=None, exclude=True, repr=False)
    """the executor's estimate that a skill completes a subgoal from the current state (SayCan's
    affordance, from the skill's critic); planners that write their plan ignore it"""


class PlanAttempt(BaseModel):
    """One call to the model."""

    raw: str
    error: str | None = None
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0


class PlanResult(BaseModel):
    """A validated plan, or a recorded failure (``plan`` None and ``failure`` saying why), or a
    refusal (``plan`` None and ``refusal`` saying why): a goal that asks for nothing the skills
    can do is refused before any model call."""

    plan: list[Subgoal] | None
    failure: str | None = None
    refusal: str | None = None
    screen_s: float = 0.0
    """seconds the goal screen took (a language model's yes or no; see ``planner/screen.py``)"""
    reason: Literal["initial", "replan"]
    template: str
    prompt_sha256: str = ""
    user_message: str = ""
    """the prompt's last turn (system prompt and examples are fixed by the template and hash)"""
    attempts: list[PlanAttempt] = Field(default_factory=list)

    @property
    def latency_s(self) -> float:
        return sum(a.latency_s for a in self.attempts)

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens for a in self.attempts)


PromptVariant = Literal["few-shot", "tuned"]


@dataclass(frozen=True)
class PlannerPrompts:
    """The prompt files under ``prompts/``.

    ``few-shot`` (an untuned model): instructions, skills with their descriptions, and worked
    examples. ``tuned`` (a model fine-tuned on this job, see ``planner/tuning``): a short system
    turn listing the skills' signatures and no examples; replanning and retry turns are shared.
    """

    variant: PromptVariant
    system: PromptTemplate
    skill: PromptTemplate
    plan: PromptTemplate
    replan: PromptTemplate
    outcome: PromptTemplate
    retry: PromptTemplate
    examples: tuple[BaseMessage, ...]

    @classmethod
    def load(cls, variant: PromptVariant = "few-shot", directory: Path = PROMPTS_DIR) -> PlannerPrompts:
        def template(name: str) -> PromptTemplate:
            return PromptTemplate.from_template((directory / name).read_text().rstrip("\n"))

        tuned = variant == "tuned"
        return cls(
            variant=variant,
            system=template("tuned_system.txt" if tuned else "plan_system.txt"),
            skill=template("tuned_skill.txt" if tuned else "skill_line.txt"),
            plan=template("plan_user.txt"),
            replan=template("replan_user.txt"),
            outcome=template("outcome.txt"),
            retry=template("retry_user.txt"),
            examples=() if tuned else tuple(_examples((directory / "plan_examples.txt").read_text())),
        )

    def messages(self, request: PlanRequest) -> tuple[str, list[BaseMessage]]:
        """The template used and the chat messages for a request."""
        skills = "\n".join(
            self.skill.format(signature=s.signature(), description=s.description) for s in request.skills
        )
        system = SystemMessage(content=self.system.format(skills=skills))
        goal = clean_goal(request.goal)
        if request.history:
            history = "\n".join(
                self.outcome.format(
                    call=format_step(o.subgoal, request.skills),
                    status=o.status,
                    reason=f": {o.reason}" if o.reason else "",
                )
                for o in request.history
            )
            user = self.replan.format(goal=goal, history=history, observation=request.observation or "(nothing)")
            return "replan_user.txt", [system, *self.examples, HumanMessage(content=user)]
        return "plan_user.txt", [system, *self.examples, HumanMessage(content=self.plan.format(goal=goal))]


def _examples(text: str) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for block in text.split("### ")[1:]:
        role, _, body = block.partition("\n")
        kind = {"user": HumanMessage, "assistant": AIMessage}[role.strip()]
        messages.append(kind(content=body.strip()))
    return messages


def clean_goal(goal: str) -> str:
    """Collapse whitespace and drop control characters; the goal only ever fills a user turn."""
    printable = "".join(c for c in goal if unicodedata.category(c)[0] != "C" or c in "\n\t ")
    return " ".join(printable.split())


def open_result(
    request: PlanRequest, template: str, messages: list[BaseMessage], screen: GoalScreen | None = None
) -> PlanResult:
    """The result a planner fills in for ``request``, already a refusal when the goal is empty,
    too long, or (for a first plan) refused by ``screen``: then no model writes a plan."""
    reason: Literal["initial", "replan"] = "replan" if request.history else "initial"
    result = PlanResult(plan=None, reason=reason, template=template, user_message=str(messages[-1].content))
    goal = clean_goal(request.goal)
    if not goal:
        result.refusal = "the goal is empty"
    elif len(goal) > MAX_GOAL_CHARS:
        result.refusal = f"the goal is {len(goal)} characters long; at most {MAX_GOAL_CHARS} are accepted"
    else:
        prompt = "\n".join(f"{m.type}: {m.content}" for m in messages)
        result.prompt_sha256 = hashlib.sha256(prompt.encode()).hexdigest()
        if screen is not None and not request.history:
            started = time.perf_counter()
            result.refusal = screen.refusal(goal, request.skills)
            result.screen_s = time.perf_counter() - started
    return result


_DOING = {"pick_up": "pick something up", "open": "open a door"}


def _unfaithful(goal: str, plan: list[Subgoal]) -> list[str]:
    """Why a plan judged by its own checks would not be the goal's: a colour or place left out,
    a kind of step the goal's verbs ask for missing, the wrong object moved."""
    missing = unsaid(goal, plan)
    return [
        *([f"the plan leaves out {', '.join(missing)}, which the goal says"] if missing else []),
        *[f"the goal asks to {_DOING[kind]}, and no step of the plan does" for kind in unplanned(goal, plan)],
        *[f"'{step}' moves the object the goal puts something next to" for step in misread_puts(goal, plan)],
    ]


def said_text(request: PlanRequest) -> str:
    """The goal and the feedback: what plan arguments are copied or put together from."""
    said = [clean_goal(request.goal)] + [f"{o.subgoal.to_text()}: {o.reason}" for o in request.history]
    return " | ".join(said)


def said_phrases(request: PlanRequest) -> list[str]:
    """The object descriptions written in the goal and the feedback."""
    return noun_phrases(said_text(request))


class LLMPlanner:
    """Plans with a chat model; ``grammar`` defaults to on for the built-in llama.cpp model."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        grammar: bool | None = None,
        max_retries: int = 2,
        prompts: PlannerPrompts | None = None,
        max_listed_skills: int = 16,
        encoder=None,
        screen: GoalScreen | None = None,
    ):
        self.model = model
        self.grammar = isinstance(model, LlamaCppChat) if grammar is None else grammar
        self.max_retries = max_retries
        self.prompts = prompts or PlannerPrompts.load()
        self.max_listed_skills = max_listed_skills
        """a larger library is shortlisted per goal by embedding similarity (planner/retrieval.py)"""
        self._encoder = encoder
        self.screen = screen
        """refuses, before any plan, goals that ask for nothing the skills can do (None: none refused
        but empty or overlong ones)"""
        self._retrievers: dict[tuple[SkillSpec, ...], SkillRetriever] = {}

    def listed_skills(self, request: PlanRequest) -> list[SkillSpec]:
        """The skills the prompt lists: all of them, or a shortlist for the goal when there are
        more than ``max_listed_skills`` (always keeping those the history mentions).

        A goal in BabyAI's mission language asks only for the mission language's kinds, so skills
        of declared kinds are not listed for it: a model tuned on missions, shown ``put_down()``,
        wrote it in place of puts and pick-ups the mission asked for (40 times in 200 BossLevel
        missions)."""
        skills = list(request.skills)
        if instruction_of(clean_goal(request.goal)) is not None:
            skills = [s for s in skills if s.kind is None]
        if len(skills) <= self.max_listed_skills:
            return skills
        key = tuple(skills)
        if key not in self._retrievers:
            self._retrievers[key] = SkillRetriever(skills, encoder=self._encoder)
        chosen = self._retrievers[key].shortlist(clean_goal(request.goal), self.max_listed_skills)
        kinds = {o.subgoal.kind for o in request.history} - {s.subgoal for s in chosen}
        return chosen + [next(s for s in skills if s.subgoal == kind) for kind in sorted(kinds)]

    @property
    def identity(self) -> str:
        """What planned, for traces: the chat model's kind and identifying parameters."""
        params = ", ".join(f"{k}={v}" for k, v in self.model._identifying_params.items())
        return f"llm {type(self.model).__name__}({params}) grammar={'on' if self.grammar else 'off'}"

    def messages(self, request: PlanRequest) -> tuple[str, list[BaseMessage]]:
        """The template used and the chat messages for a request."""
        return self.prompts.messages(request)

    def plan(self, request: PlanRequest, **sampling) -> PlanResult:
        """A plan for the request; ``sampling`` (e.g. ``temperature``, ``seed``) goes to the model."""
        request = request.model_copy(update={"skills": self.listed_skills(request)})
        template, messages = self.messages(request)
        result = open_result(request, template, messages, self.screen)
        if result.refusal:
            return result
        parser = PlanParser(specs=request.skills)
        options = dict(sampling)
        if self.grammar:
            options["grammar"] = plan_grammar(request.skills, said_phrases(request), said_text(request))
        for _ in range(1 + self.max_retries):
            started = time.perf_counter()
            reply = self.model.invoke(messages, **options)
            usage = getattr(reply, "usage_metadata", None) or {}
            attempt = PlanAttempt(
                raw=str(reply.content),
                latency_s=time.perf_counter() - started,
                prompt_tokens=usage.get("input_tokens", 0),
                completion_tokens=usage.get("output_tokens", 0),
            )
            result.attempts.append(attempt)
            try:
                plan = parser.parse(attempt.raw)
            except OutputParserException as error:
                attempt.error = error.observation
            else:
                # a goal in the mission language is judged by its own verifier, never by the plan
                judged_by_plan = not request.history and instruction_of(clean_goal(request.goal)) is None
                goal = clean_goal(request.goal)
                errors = _unfaithful(goal, plan) if judged_by_plan else []
                if not errors:
                    result.plan = plan
                    return result
                attempt.error = errors[0]
            messages = [
                *messages,
                AIMessage(content=attempt.raw),
                HumanMessage(content=self.prompts.retry.format(error=attempt.error)),
            ]
        result.failure = f"no valid plan after {len(result.attempts)} attempts: {result.attempts[-1].error}"
        return result
