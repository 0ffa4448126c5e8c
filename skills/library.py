"""Skills on disk: one folder per skill, ``card.json`` beside ``model.safetensors``.

A skill a user trains and drops into the library folder is found by :meth:`SkillLibrary.cards`
and loaded by name, with no code change. Loading checks the card's schema and the weights'
sha256, and that the weights fit the network the card describes.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from pathlib import Path

from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from foreman.envs import KindError
from foreman.errors import ForemanError
from foreman.paths import PACKAGE_DIR
from foreman.skills.card import SkillCard, SkillDeclaration, declaration_template
from foreman.skills.network import SkillNetwork
from foreman.skills.skill import TrainedSkill

logger = logging.getLogger(__name__)
BUILT_IN_LIBRARY = Path(__file__).resolve().parent / "library"


class SkillLoadError(ForemanError):
    """A skill that is missing, or whose card or weights are corrupt or do not match."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class SkillLibrary:
    """Skill folders (a card and weights each) under one or more library folders.

    ``SkillLibrary(BUILT_IN_LIBRARY, Path("~/my-skills"))`` uses a user's folder beside the
    built-in one: a skill there replaces a built-in skill of the same name, and one that does a
    kind another skill already does is left out as a problem naming its card. Skills are saved to
    the last folder."""

    def __init__(self, *roots: Path):
        self.roots = [Path(r) for r in roots] or [BUILT_IN_LIBRARY]

    @property
    def root(self) -> Path:
        """The folder skills are saved to: the last one."""
        return self.roots[-1]

    def _folders(self) -> dict[str, Path]:
        """Each skill's folder by name, a later library folder's replacing an earlier one's."""
        found: dict[str, Path] = {}
        for root in self.roots:
            if root.is_dir():
                found |= {f.name: f for f in sorted(root.iterdir()) if f.is_dir()}
        return found

    def _card(self, folder: Path) -> SkillCard:
        path = folder / "card.json"
        try:
            card = SkillCard.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise SkillLoadError(f"{folder} has no card.json") from None
        except (ValidationError, ValueError) as error:
            raise SkillLoadError(f"{path} is not a valid skill card: {error}") from None
        if card.name != folder.name:
            raise SkillLoadError(f"{path} names the skill {card.name!r}, but its folder is {folder.name!r}")
        if card.kind is not None:
            try:
                card.kind.importable()
            except KindError as error:
                raise SkillLoadError(f"{path}: {error}") from None
        return card

    def scan(self) -> tuple[list[SkillCard], list[str]]:
        """Every usable skill's card, by name, and what is wrong with each skill folder that is
        not usable (a corrupt card, a check that does not import, a second skill for a kind)."""
        cards: list[SkillCard] = []
        problems: list[str] = []
        for _, folder in sorted(self._folders().items()):
            if not (folder / "card.json").exists() and (folder / "skill.json").exists():
                command = f"foreman train {folder.name} --library {folder.parent}"
                problems.append(f"{folder / 'skill.json'}: not trained yet (run `{command}`)")
                continue
            try:
                card = self._card(folder)
            except SkillLoadError as error:
                problems.append(str(error))
                continue
            other = next((c for c in cards if c.subgoal == card.subgoal), None)
            if other is not None:
                problems.append(f"{folder / 'card.json'}: the skill {other.name!r} already does {card.subgoal!r}")
                continue
            cards.append(card)
        return cards, problems

    def cards(self) -> list[SkillCard]:
        """Every usable skill's card, by name; a folder that is not usable is logged and left out."""
        cards, problems = self.scan()
        for problem in problems:
            logger.warning("skill left out: %s", problem)
        return cards

    def load(self, name: str) -> TrainedSkill:
        folder = self._folders().get(name)
        if folder is None:
            names = [c.name for c in self.cards()]
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            where = ", ".join(map(str, self.roots))
            raise SkillLoadError(f"no skill {name!r} in {where} (it has: {', '.join(names) or 'none'}).{hint}")
        card = self._card(folder)
        weights = folder / "model.safetensors"
        if not weights.exists():
            raise SkillLoadError(f"{folder} has no model.safetensors")
        digest = _sha256(weights)
        if digest != card.weights_sha256:
            raise SkillLoadError(
                f"{weights} has sha256 {digest}, but its card says {card.weights_sha256}: "
                "the file is corrupt or belongs to another card"
            )
        network = SkillNetwork(**{"routes": False} | card.network)  # cards from before routes say nothing
        try:
            network.load_state_dict(load_file(weights))
        except (SafetensorError, RuntimeError) as error:
            raise SkillLoadError(f"{weights} does not fit the network its card describes: {error}") from None
        return TrainedSkill(card, network)

    def declaration(self, name: str) -> SkillDeclaration:
        """The declaration (``skill.json``) of a skill of a new kind; an error naming the file."""
        folder = self._folders().get(name)
        path = (folder or self.root / name) / "skill.json"
        try:
            return SkillDeclaration.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise SkillLoadError(
                f"{path} does not exist: `foreman skills new {name} --library {self.root}` makes one to edit"
            ) from None
        except (ValidationError, ValueError) as error:
            raise SkillLoadError(f"{path} is not a valid skill declaration: {error}") from None

    def new(self, name: str) -> Path:
        """A folder for a skill of a new kind, with a declaration to edit; returns the file."""
        if self.root.resolve().is_relative_to(PACKAGE_DIR):
            raise SkillLoadError(
                f"{self.root} is inside the installed foreman package: make skills in a folder of your own"
            )
        folder = self.root / name
        if folder.exists():
            raise SkillLoadError(f"{folder} exists already")
        declaration = declaration_template(name)
        folder.mkdir(parents=True)
        path = folder / "skill.json"
        path.write_text(json.dumps(declaration.model_dump(mode="json"), indent=2) + "\n")
        return path

    def save(self, network: SkillNetwork, card: SkillCard) -> Path:
        """Write the weights, then the card with their sha256; returns the skill's folder. The
        built-in library is read-only: a skill trained or refitted goes to a user's library."""
        if self.root.resolve().is_relative_to(PACKAGE_DIR):
            raise SkillLoadError(
                f"{self.root} is inside the installed foreman package, which is read-only: "
                "save the skill in a library folder of your own (--library DIR)"
            )
        folder = self.root / card.name
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / "model.safetensors"
        save_file({k: v.contiguous() for k, v in network.state_dict().items()}, weights)
        card = card.model_copy(update={"weights_sha256": _sha256(weights), "network": network.config()})
        (folder / "card.json").write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
        return folder
