"""The agent's loop: plan, run each subgoal's skill until its detector decides, feed back, replan.

::

    plan = planner.plan(goal, what the agent knows, skill cards)
    for subgoal in plan:
        skill = library skill executing subgoal.kind
        run skill until detector says success/failure, the env ends, or the step budget is spent
        if it did not succeed: tell the planner what happened and what the agent knows; replan
    if the plan is done and the task's check has not seen the task done: replan

The agent acts from what the env lets it observe (view, its own memory, the user's goal). The
detectors and the task's check read env state, as simulated success detectors do.

A task is judged by a check that comes from it (``Judge``): BabyAI's verifier for the goal when
the goal is written in the mission language (``envs/tasks.py``), else the plan's subgoals, each
confirmed by its detector. Only when the goal *is* the world's mission (benchmarks) does the
world's own judgement decide. A :class:`Session` gives one world several tasks in a row.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Literal

import gymnasium as gym
import numpy as np
from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, OBJECT_TO_IDX
from pydantic import BaseModel, Field

from foreman.envs import (
    AgentMemory,
    KindSpec,
    Pose,
    Subgoal,
    arguments_of,
    current_pose,
    detector_for,
    world_is_over,
)
from foreman.envs.tasks import TaskVerifier, instruction_of
from foreman.planner import Planner, PlanRequest, PlanResult, SubgoalOutcome, skill_specs
from foreman.skills import Skill, SkillLibrary
from foreman.skills.routes import routes, unexplored
from foreman.traces import (
    Attempt,
    EpisodeEnd,
    EpisodeStart,
    Feedback,
    PlanMade,
    SubgoalEnd,
    SubgoalStart,
    TraceSink,
)

_DOOR, _KEY, _LOCKED = OBJECT_TO_IDX["door"], OBJECT_TO_IDX["key"], 2  # MiniGrid's door state 2: locked

EndReason = Literal[
    "success",
    "refused",
    "task failed",
    "env failure",
    "env step limit",
    "planning failed",
    "replan budget",
    "llm call budget",
]
Judge = Literal["env", "verifier", "plan"]
"""What judged a task done: the world's own reward for its mission (only when the goal is that
mission), BabyAI's verifier for the goal, or the plan's subgoals confirmed by their detectors."""


@dataclass(frozen=True)
class AgentConfig:
    subgoal_steps: int | None = None
    """env steps one subgoal may take before it counts as failed; None: twice the mean steps on
    the skill's card (its evaluation level), and at least 150. A subgoal planned again after it
    ran out of steps gets half as many, and half again at each retry (see ``_step_budget``)."""
    stall_steps: int = 8
    """a subgoal stops when, in front of a locked door, its actions have changed nothing the agent
    sees for this many steps in a row (toggling a door it has no key for), so the planner hears
    why sooner. Elsewhere such runs are left alone: a skill often stands still for a while on its
    way (turning to look), and stopping it anywhere cost BossLevel much of its success (see
    docs/lab/agent-status-history.md)."""
    locked_away_steps: int = 40
    """a subgoal stops when, for this many steps in a row, nothing it needs is known and a locked
    door bars all unexplored space (see ``_locked_away``): long enough for its skill to fetch the
    key itself, as it often does, short of wandering the known rooms for its whole budget"""
    max_replans: int = 3
    max_llm_calls: int = 8


SubgoalStatus = Literal["succeeded", "failed", "ran out of steps", "stopped"]
"""``stopped``: the task's check saw the task done while the subgoal was still running"""


class SubgoalRecord(BaseModel):
    subgoal: Subgoal
    skill: str
    status: SubgoalStatus
    reason: str = ""
    steps: int
    actions: list[int] = Field(default_factory=list)


class EpisodeResult(BaseModel):
    env_id: str
    seed: int | None
    goal: str
    mission: str
    success: bool
    reward: float
    steps: int
    llm_calls: int
    replans: int
    end_reason: EndReason
    wall_s: float
    plans: list[PlanResult]
    subgoals: list[SubgoalRecord]
    task: int = 0
    """the task's place in its session (0: the first, in a freshly reset world)"""
    check: Judge | None = None
    """what judged the task done; None when it was not"""
    mission_done: bool = False
    """whether the world's own mission was completed during the task (whatever the task was)"""
    trace: str | None = None
    """the trace file that holds the episode, where one was written"""


def _facing_locked_door(memory: AgentMemory):
    """The locked door right in front of the agent, as it saw it, or None."""
    facing = next((o for o in memory.objects() if (o.ahead, o.right) == (1, 0)), None)
    return facing if facing and facing.door_state == "locked" else None


def _locked_target(memory: AgentMemory, subgoal: Subgoal) -> str | None:
    """For an ``open`` subgoal: the colour of the nearest door fitting it, when every such door
    the agent remembers is locked and it carries no key of a matching colour; else None.

    The subgoal stops there, before its skill wanders off to fetch a key on its own, so the
    planner hears which key is needed (BALROG's open kind: the skill picked up the wrong key and
    spent the episode's 100 steps; the planner's pick_up then open succeeds)."""
    if subgoal.kind != "open":
        return None
    cells = np.argwhere(memory.matching(subgoal.target))
    if len(cells) == 0:
        return None
    found = memory.grid[cells[:, 0], cells[:, 1]]
    if not np.all((found[:, 0] == _DOOR) & (found[:, 2] == _LOCKED)):
        return None
    carried = memory.carried_code
    if carried[0] == _KEY and np.any(found[:, 1] == carried[1]):
        return None
    ahead, right = memory.egocentric(cells - AgentMemory.SIZE // 2)
    return IDX_TO_COLOR[int(found[np.argmin(np.abs(ahead) + np.abs(right)), 1])]


def _locked_away(memory: AgentMemory, subgoal: Subgoal) -> str | None:
    """The colour of the nearest remembered locked door whose key is not in hand, when the
    subgoal's objects are not all remembered (nor carried) and no known route reaches unexplored
    space; else None.

    Then whatever the subgoal needs lies behind a locked door, and its skill can only wander the
    rooms it knows until its step budget ends (BossLevel: "put a blue key next to a purple ball",
    the blue keys in a room behind a locked yellow door, spent four budgets of 407 steps). The
    subgoal stops there and the planner hears which key is needed."""
    wanted = arguments_of(subgoal)
    carried = memory.carried_code
    held = IDX_TO_OBJECT[int(carried[0])], IDX_TO_COLOR[int(carried[1])]
    holds = held[0] in ("key", "ball", "box")
    if all(memory.matching(d).any() or (holds and d.matches(held[1], held[0])) for d in wanted):
        return None
    if routes(memory, [unexplored(memory)])[0, 0]:
        return None
    grid = memory.grid
    locked = (grid[:, :, 0] == _DOOR) & (grid[:, :, 2] == _LOCKED)
    if carried[0] == _KEY:
        locked &= grid[:, :, 1] != carried[1]
    cells = np.argwhere(locked)
    if len(cells) == 0:
        return None
    ahead, right = memory.egocentric(cells - AgentMemory.SIZE // 2)
    nearest = cells[np.argmin(np.abs(ahead) + np.abs(right))]
    return IDX_TO_COLOR[int(grid[nearest[0], nearest[1], 1])]


_HELD = "already done: the same pick-up just succeeded and the object is still in hand"


def _repeats_a_done_pick_up(subgoal: Subgoal, records: list[SubgoalRecord], memory: AgentMemory) -> bool:
    """A plan's pick_up repeated right after it succeeded, its object still in hand: done already.

    The hands hold one object, and BabyAI's verifier counts one pick-up for both clauses of
    "pick up a key, then pick up a key". Run again, the skill has to put the object down and lift
    it anew (BALROG's open kind: plans doubling the key's pick-up lost the episode's steps)."""
    if subgoal.kind != "pick_up" or not records or records[-1].subgoal != subgoal or records[-1].status != "succeeded":
        return False
    carried = memory.carried_code
    held = IDX_TO_OBJECT[int(carried[0])]
    return held in ("key", "ball", "box") and subgoal.target.matches(IDX_TO_COLOR[int(carried[1])], held)


def _feedback(subgoal: Subgoal, memory: AgentMemory, ran_out: bool) -> str:
    """Why a subgoal did not succeed, from what the agent can see (never from env state)."""
    facing = _facing_locked_door(memory)
    if subgoal.kind in ("open", "go_to") and facing:
        return f"the {facing.color} door is locked; a {facing.color} key is needed"
    if subgoal.kind in ("pick_up", "put_next") and memory.carrying and ran_out:
        return f"the robot carries a {memory.carrying}, so its hands are not free"
    if ran_out:
        return "not done within the step budget"
    return "the subgoal's check reported a failure"


@dataclass
class Agent:
    """A planner and a skill library, run on one env episode at a time (:meth:`run`), or on
    several tasks in one world (:meth:`session`).

    With a ``trace`` writer, every decision is written as it happens (see ``foreman.traces``).
    """

    planner: Planner
    library: SkillLibrary
    config: AgentConfig = field(default_factory=AgentConfig)

    def __post_init__(self) -> None:
        cards = self.library.cards()
        self.specs = skill_specs([c.model_dump() for c in cards])
        self.skills: dict[str, Skill] = {c.subgoal: self.library.load(c.name) for c in cards}
        self.kinds: dict[str, KindSpec] = {c.subgoal: c.kind for c in cards if c.kind is not None}

    def run(
        self,
        env: gym.Env,
        goal: str | None = None,
        seed: int | None = None,
        trace: TraceSink | None = None,
        episode: int = 0,
        goal_is_mission: bool | None = None,
    ) -> EpisodeResult:
        """One episode in a freshly reset world: ``goal`` (default: the world's mission).

        ``goal_is_mission``: whether the goal means the world's mission, so that the world's
        reward judges it (benchmarks of reworded missions); by default, when it is the mission's
        own text.
        """
        return self.session(env, seed, trace, episode).do(goal, goal_is_mission)

    def session(
        self, env: gym.Env, seed: int | None = None, trace: TraceSink | None = None, episode: int = 0
    ) -> Session:
        """A world reset from ``seed`` for several tasks in a row (see :class:`Session`)."""
        return Session(self, env, seed, trace, episode)

    def _affordance(self, memory: AgentMemory, subgoal: Subgoal) -> float | None:
        """The executing skill's fitted critic's estimate of completing ``subgoal`` from here;
        None without such a skill or critic (an unfitted critic's value means nothing)."""
        skill = self.skills.get(subgoal.kind)
        training = getattr(getattr(skill, "card", None), "training", None)
        if skill is None or getattr(training, "critic", None) is None:
            return None
        return _value(skill, memory, subgoal)


class _Judges:
    """A task's checks as one subgoal runs: its verifier, if it has one, and whether the world's
    mission got done on the way."""

    def __init__(self, verifier: TaskVerifier | None, goal_is_mission: bool):
        self.verifier, self.goal_is_mission = verifier, goal_is_mission
        self.mission_done = False


@dataclass
class _Execution:
    """How one subgoal went."""

    record: SubgoalRecord
    detector: str
    end: EndReason | None
    """the task's end, when it came during this subgoal"""
    check: Judge | None = None


class Session:
    """One world and several tasks in a row: the world and the agent's memory carry over.

    ::

        session = agent.session(make_env("BabyAI-BossLevel-v0"), seed=3)
        session.do("pick up the blue key")
        session.do("open the yellow door")

    Each task is judged by its own check and is one episode of the trace (numbered on from
    ``episode``; ``task`` says its place in the session). The world's step limit, set for its
    own mission, bounds only that mission; a task is bounded by the agent's budgets (steps per
    subgoal, replans, LLM calls). A world that ended (the agent stepped into lava, say) takes no
    more tasks.
    """

    def __init__(
        self, agent: Agent, env: gym.Env, seed: int | None = None, trace: TraceSink | None = None, episode: int = 0
    ):
        self.agent, self.env, self.seed, self.trace = agent, env, seed, trace
        self.first_episode = episode
        self.obs, _ = env.reset(seed=seed)
        self.mission: str = self.obs["mission"]
        self.env_id = env.spec.id if env.spec else type(env.unwrapped).__name__
        self.memory = AgentMemory()
        self.memory.observe(self.obs)
        self.results: list[EpisodeResult] = []
        self.reward = 0.0
        """the world's reward at the latest step"""
        self.ended: EndReason | None = None
        """how the world ended, if it did: then no task can be pursued in it"""

    def do(self, goal: str | None = None, goal_is_mission: bool | None = None) -> EpisodeResult:
        """Pursue ``goal`` (default: the world's mission) from where the world is now."""
        agent, config, env, memory = self.agent, self.agent.config, self.env, self.memory
        started = time.perf_counter()
        goal = self.mission if goal is None else goal
        if goal_is_mission is None:
            goal_is_mission = " ".join(goal.lower().split()).rstrip(".") == self.mission.lower()
        task = len(self.results)
        emit = _Emitter(self.trace, self.first_episode + task)
        emit(
            EpisodeStart,
            env_id=self.env_id,
            env_kwargs=dict(env.spec.kwargs) if env.spec else {},
            seed=self.seed,
            goal=goal,
            mission=self.mission,
            task=task,
            config=asdict(config),
            planner=getattr(agent.planner, "identity", type(agent.planner).__name__),
            skills={s.name: s.identity for s in agent.skills.values()},
        )
        start = current_pose(env)  # "on your left" resolves against the pose the task began in
        memory.anchor_here()  # for the skills too
        instruction = None if goal_is_mission else instruction_of(goal)
        judges = _Judges(TaskVerifier(instruction, env, start) if instruction else None, goal_is_mission)
        plans: list[PlanResult] = []
        records: list[SubgoalRecord] = []
        history: list[SubgoalOutcome] = []
        steps, why = 0, ""
        end: EndReason | None = self.ended
        check: Judge | None = None
        if end is not None:
            why = f"the world has ended ({end}): start a new session"
            emit(Feedback, text=why)
        while end is None:
            if len(plans) > config.max_replans:
                end = "replan budget"
                break
            if sum(len(p.attempts) for p in plans) >= config.max_llm_calls:
                end = "llm call budget"
                break
            request = PlanRequest(
                goal=goal,
                skills=agent.specs,
                observation=memory.describe(),
                history=history,
                affordance=lambda subgoal, memory=memory: agent._affordance(memory, subgoal),
            )
            try:
                result = agent.planner.plan(request)
            except Exception as error:  # a broken planner ends the episode, recorded, not the eval
                result = PlanResult(
                    plan=None,
                    failure=f"the planner raised {type(error).__name__}: {error}",
                    reason="replan" if history else "initial",
                    template="",
                )
            unknown = sorted({s.kind for s in result.plan or []} - set(agent.skills))
            if unknown:  # a planner that skips validation against the cards (or a foreign one)
                result = result.model_copy(update={"plan": None, "failure": f"no skill executes {', '.join(unknown)}"})
            plans.append(result)
            emit.plan(result, why)
            if result.refusal is not None:
                end = "refused"
                break
            if result.plan is None:
                end = "planning failed"
                break
            for step, subgoal in enumerate(result.plan):
                skill = agent.skills[subgoal.kind]
                emit(
                    SubgoalStart,
                    index=len(records),
                    plan_step=step,
                    skill=skill.name,
                    subgoal=subgoal.to_text(),
                    value=_value(skill, memory, subgoal),
                    env_step=steps,
                )
                if _repeats_a_done_pick_up(subgoal, records, memory):
                    record = SubgoalRecord(subgoal=subgoal, skill=skill.name, status="succeeded", reason=_HELD, steps=0)
                    execution = _Execution(record, "not run", None)
                else:
                    budget = _step_budget(skill, config.subgoal_steps, _ran_out(subgoal, records))
                    execution = self._execute(skill, subgoal, start, budget, judges)
                record = execution.record
                emit(
                    SubgoalEnd,
                    index=len(records),
                    skill=skill.name,
                    subgoal=subgoal.to_text(),
                    status=record.status,
                    reason=record.reason,
                    detector=execution.detector,
                    steps=record.steps,
                    actions=record.actions,
                )
                records.append(record)
                steps += record.steps
                history.append(SubgoalOutcome(subgoal=subgoal, status=record.status, reason=record.reason))
                if execution.end is not None:
                    end, check = execution.end, execution.check
                    break
                if record.status != "succeeded":
                    why = f"{subgoal.to_text()}: {record.status}" + (f" ({record.reason})" if record.reason else "")
                    emit(Feedback, text=why)
                    break
            else:
                if judges.verifier is None and not goal_is_mission:
                    end, check = "success", "plan"  # no check of its own: the plan's, each subgoal confirmed
                    break
                why = "every subgoal of the plan succeeded, but the goal is not achieved yet"
                emit(Feedback, text=why)
        if end in ("env failure", "env step limit"):
            self.ended = end
        result = EpisodeResult(
            env_id=self.env_id,
            seed=self.seed,
            goal=goal,
            mission=self.mission,
            success=end == "success",
            reward=float(self.reward),
            steps=steps,
            llm_calls=sum(len(p.attempts) for p in plans),
            replans=max(0, len(plans) - 1),
            end_reason=end,
            wall_s=time.perf_counter() - started,
            plans=plans,
            subgoals=records,
            task=task,
            check=check,
            mission_done=judges.mission_done,
        )
        emit(
            EpisodeEnd,
            success=result.success,
            reward=result.reward,
            steps=result.steps,
            llm_calls=result.llm_calls,
            replans=result.replans,
            wall_s=result.wall_s,
            end_reason=result.end_reason,
            check=result.check,
            mission_done=result.mission_done,
        )
        self.results.append(result)
        return result

    def _execute(self, skill: Skill, subgoal: Subgoal, start: Pose, budget: int, judges: _Judges) -> _Execution:
        """Run one subgoal for at most ``budget`` steps, the task's checks watching every step."""
        env, memory, config = self.env, self.memory, self.agent.config
        detector = detector_for(subgoal, env, anchor=start, kind=self.agent.kinds.get(subgoal.kind))
        skill.reset()
        actions: list[int] = []
        end: EndReason | None = None
        check: Judge | None = None
        raised, unchanged, away = "", 0, 0
        locked: str | None = None
        while detector.status == "continue" and len(actions) < budget and unchanged < config.stall_steps:
            locked = _locked_target(memory, subgoal)
            barred = _locked_away(memory, subgoal)
            away = away + 1 if barred else 0
            if away > config.locked_away_steps:
                locked = barred
            if locked:
                break
            try:
                action = skill.act(memory, subgoal)
            except Exception as error:  # a broken skill fails its subgoal, recorded, and the agent replans
                raised = f"the skill raised {type(error).__name__}: {error}"
                break
            before = (self.obs["image"], self.obs["direction"])
            self.obs, stepped, terminated, truncated, _ = env.step(action)
            self.reward = reward = float(stepped)
            memory.observe(self.obs, action)
            detector.step(action)
            actions.append(action)
            same = np.array_equal(before[0], self.obs["image"]) and before[1] == self.obs["direction"]
            unchanged = unchanged + 1 if same and _facing_locked_door(memory) else 0
            judges.mission_done |= terminated and reward > 0
            verdict = judges.verifier.step(action) if judges.verifier else "continue"
            if judges.goal_is_mission and terminated:
                end, check = ("success", "env") if reward > 0 else ("env failure", None)
            elif verdict == "success":
                end, check = "success", "verifier"
            elif verdict == "failure":
                end = "task failed"
            elif terminated and world_is_over(env, reward):
                end = "env failure"  # the world ended (lava, say); its mission done or failed ends nothing
            elif truncated and judges.goal_is_mission:
                end = "env step limit"  # the world's limit is its mission's; a task has the agent's budgets
            if end is not None:
                break
        status: SubgoalStatus
        if detector.status == "success":
            status, reason = "succeeded", ""
        elif end == "success":
            status, reason = "stopped", "the task was done"
        elif raised:
            status, reason = "failed", raised
        elif locked:
            status, reason = "failed", f"the {locked} door is locked; a {locked} key is needed"
        elif detector.status == "failure":
            status, reason = "failed", _feedback(subgoal, memory, ran_out=False)
        else:
            status, reason = "ran out of steps", _feedback(subgoal, memory, ran_out=True)
        record = SubgoalRecord(
            subgoal=subgoal, skill=skill.name, status=status, reason=reason, steps=len(actions), actions=actions
        )
        return _Execution(record, detector.status, end, check)


def _ran_out(subgoal: Subgoal, records: list[SubgoalRecord]) -> int:
    """How many times this episode ``subgoal`` has run out of steps."""
    return sum(r.subgoal == subgoal and r.status == "ran out of steps" for r in records)


def _step_budget(skill: Skill, fixed: int | None, ran_out: int = 0) -> int:
    """The steps a subgoal may take, halved for each time it has already run out of them.

    A retry that succeeds does so early; one that does not would otherwise spend a whole budget
    again (one BossLevel episode spent four put_next budgets of 407 steps)."""
    if fixed is not None:
        full = fixed
    else:
        evaluation = getattr(getattr(skill, "card", None), "evaluation", None)
        full = max(150, round(2 * evaluation.mean_steps)) if evaluation else 150
    return max(1, full >> ran_out)


def _value(skill: Skill, memory: AgentMemory, subgoal: Subgoal) -> float | None:
    """The skill's value estimate for the trace, or None if it has none (or fails to give one)."""
    try:
        return skill.value(memory, subgoal)
    except Exception:
        return None


class _Emitter:
    """Builds trace events and writes them, or does nothing without a writer."""

    def __init__(self, trace: TraceSink | None, episode: int):
        self.trace, self.episode = trace, episode

    def __call__(self, kind, **fields) -> None:
        if self.trace is not None:
            self.trace.write(kind(episode=self.episode, time=time.time(), **fields))

    def plan(self, result: PlanResult, why: str) -> None:
        self(
            PlanMade,
            reason=result.reason,
            why=why,
            template=result.template,
            prompt_sha256=result.prompt_sha256,
            user_message=result.user_message,
            attempts=[Attempt(**a.model_dump()) for a in result.attempts],
            plan=[s.to_text() for s in result.plan] if result.plan is not None else None,
            failure=result.failure,
            refusal=result.refusal,
            screen_s=result.screen_s,
            latency_s=result.latency_s,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
        )


def describe_result(result: EpisodeResult) -> str:
    """A human summary of a task: plans, subgoal outcomes, result and what judged it."""
    where = f"{result.env_id}, seed {result.seed}" + (f", task {result.task + 1}" if result.task else "")
    lines = [f"Goal: {result.goal}", f"World ({where}); its own mission: {result.mission}"]
    for number, plan in enumerate(result.plans):
        if plan.refusal:
            lines.append(f"Refused: {plan.refusal}")
            continue
        label = "Plan" if number == 0 else f"Replan {number}"
        body = plan.attempts[-1].raw if plan.attempts else "(none)"
        lines.append(f"{label} ({plan.latency_s:.2f} s): " + body.replace("\n", "; "))
        if plan.failure:
            lines.append(f"  planning failed: {plan.failure}")
    for record in result.subgoals:
        reason = f" ({record.reason})" if record.reason else ""
        lines.append(f"  {record.subgoal.to_text()}: {record.status} in {record.steps} steps{reason}")
    verdict = "SUCCESS" if result.success else "FAILURE"
    judged = {"env": "the world's reward", "verifier": "BabyAI's verifier for the goal", "plan": "the plan's checks"}
    lines.append(
        f"{verdict}: {result.end_reason}"
        + (f" (judged by {judged[result.check]})" if result.check else "")
        + f", {result.steps} steps, {result.llm_calls} LLM calls, {result.wall_s:.1f} s; the world's own mission "
        + ("done" if result.mission_done else "not done")
    )
    return "\n".join(lines)
