"""Skills on disk: one folder per skill, ``card.json`` beside ``model.safetensors``.

A skill a user trains and drops into the library folder is found by :meth:`SkillLibrary.cards`
and loaded by name, with no code change. Loading checks the card's schema and the weights'
sha256, and that the weights fit the network the card describes.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path

from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from foreman.errors import ForemanError
from foreman.paths import PACKAGE_DIR
from foreman.skills.card import SkillCard
from foreman.skills.network import SkillNetwork
from foreman.skills.skill import TrainedSkill

BUILT_IN_LIBRARY = Path(__file__).resolve().parent / "library"


class SkillLoadError(ForemanError):
    """A skill that is missing, or whose card or weights are corrupt or do not match."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class SkillLibrary:
    def __init__(self, root: Path = BUILT_IN_LIBRARY):
        self.root = Path(root)

    def _card(self, folder: Path) -> SkillCard:
        path = folder / "card.json"
        try:
            return SkillCard.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise SkillLoadError(f"{folder} has no card.json") from None
        except (ValidationError, ValueError) as error:
            raise SkillLoadError(f"{path} is not a valid skill card: {error}") from None

    def cards(self) -> list[SkillCard]:
        """Every skill's card, by name; a corrupt card is an error naming its file."""
        if not self.root.is_dir():
            return []
        return [self._card(folder) for folder in sorted(self.root.iterdir()) if folder.is_dir()]

    def load(self, name: str) -> TrainedSkill:
        folder = self.root / name
        if not folder.is_dir():
            names = [c.name for c in self.cards()]
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise SkillLoadError(f"no skill {name!r} in {self.root} (it has: {', '.join(names) or 'none'}).{hint}")
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
