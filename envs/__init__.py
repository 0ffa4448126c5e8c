"""The ground floor: environments, mission language, what the agent knows, and success checks.

Imports nothing from foreman's other packages. Importing it registers foreman's env ids.
"""

from foreman.envs.balrog_levels import MixedLocalLevel, register_balrog_levels
from foreman.envs.checks import DeclaredCheck, detector_for
from foreman.envs.describe import AgentMemory, SeenObject
from foreman.envs.detectors import Pose, Status, SubgoalDetector, current_pose, verifier_for, world_is_over
from foreman.envs.kinds import Argument, Check, KindError, KindSpec
from foreman.envs.make import EnvUnavailableError, UnknownEnvError, make_env, registered_env_ids
from foreman.envs.mission import (
    COLORS,
    LOCATIONS,
    OBJECT_TYPES,
    SUBGOAL_KINDS,
    After,
    And,
    Before,
    Call,
    Clause,
    Drop,
    GoTo,
    Instruction,
    MissionParseError,
    ObjectDesc,
    Open,
    PickUp,
    PutNext,
    Subgoal,
    SubgoalKind,
    arguments_of,
    clauses_in_order,
    from_babyai,
    parse_mission,
    parse_object,
)
from foreman.envs.subgoal_levels import (
    SubgoalLevel,
    register_subgoal_levels,
    subgoal_level_ids,
)

register_subgoal_levels()
register_balrog_levels()

__all__ = [
    "Argument",
    "Check",
    "DeclaredCheck",
    "KindError",
    "KindSpec",
    "detector_for",
    "COLORS",
    "LOCATIONS",
    "OBJECT_TYPES",
    "SUBGOAL_KINDS",
    "After",
    "AgentMemory",
    "And",
    "Before",
    "Clause",
    "Call",
    "Drop",
    "EnvUnavailableError",
    "GoTo",
    "Instruction",
    "MissionParseError",
    "MixedLocalLevel",
    "ObjectDesc",
    "Open",
    "PickUp",
    "Pose",
    "PutNext",
    "SeenObject",
    "Status",
    "Subgoal",
    "SubgoalDetector",
    "SubgoalKind",
    "SubgoalLevel",
    "UnknownEnvError",
    "arguments_of",
    "clauses_in_order",
    "current_pose",
    "world_is_over",
    "from_babyai",
    "make_env",
    "parse_mission",
    "parse_object",
    "registered_env_ids",
    "subgoal_level_ids",
    "verifier_for",
]
