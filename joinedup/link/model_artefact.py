"""The trained linkage model as an artefact of the node: ``NODE/link/model.json``.

A Splink model is its settings (comparisons, blocking rules) plus the parameters training
estimated (λ, and m and u per comparison level). Training costs time and its result should not
drift from one refresh to the next, so the model is saved after training and reused by later
refreshes until the settings change (the **settings hash** no longer matches) or a retrain is
asked for (``joinedup node refresh --retrain``).

The file holds the Splink settings dictionary (``linker.misc.save_model_to_json``), the hash of
the untrained settings it was trained from, the Splink version, when it was trained and the
training's counts and timings.

Invariants:
- the artefact holds no identifier: Splink's settings carry SQL conditions over column names
  and m/u probabilities, never a value; Splink's own term-frequency tables (which *are* name
  values) are not part of it (``save_artefact`` refuses a model that carries them);
- ``term_frequencies`` are the term frequencies **frozen** at the last full scoring, so that
  cached pair scores stay valid while new records arrive (``joinedup.link.pair_cache``): per
  column, the frequency of each name keyed by its HMAC with the node's secret key
  (``jp_pseudonym``), never the name itself; a full refresh (``--full``) or a retrain
  recomputes and replaces them;
- writes are atomic (a temporary file renamed over the old one).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joinedup.errors import ConfigError

MODEL_FOLDER = "link"
MODEL_FILE = "model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelArtefact:
    """A trained model and how it came to be."""

    settings_hash: str  # sha256 of the untrained settings and the features' version
    splink_version: str
    trained_at: str  # ISO 8601, UTC
    training: Mapping[str, Any]  # counts and seconds of the training run, never values
    model: Mapping[str, Any]  # Splink's settings dictionary with trained parameters
    # column -> {HMAC of a value: its term frequency}; empty until a full scoring froze them
    term_frequencies: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "settings_hash": self.settings_hash,
            "splink_version": self.splink_version,
            "trained_at": self.trained_at,
            "training": dict(self.training),
            "model": dict(self.model),
            "term_frequencies": {k: dict(v) for k, v in self.term_frequencies.items()},
        }


def model_path(node_root: Path) -> Path:
    """Where a node keeps its model: ``<node>/link/model.json``."""
    return node_root / MODEL_FOLDER / MODEL_FILE


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A stable hash of an untrained Splink settings dictionary (keys sorted, no whitespace)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _has_tf_tables(model: Mapping[str, Any]) -> bool:
    text = json.dumps(model, default=str)
    return '"tf_table"' in text or "term_frequency_table" in text


def save_artefact(path: Path, artefact: ModelArtefact) -> None:
    """Write ``artefact`` to ``path`` atomically (creating its folder)."""
    if _has_tf_tables(artefact.model):
        raise ValueError("a model artefact must not carry term-frequency tables")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(artefact.as_dict(), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def load_artefact(path: Path) -> ModelArtefact | None:
    """The artefact at ``path``, or None when there is none; ConfigError when it is unreadable."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"{path}: unknown model format; retrain with --retrain")
        return ModelArtefact(
            settings_hash=str(data["settings_hash"]),
            splink_version=str(data["splink_version"]),
            trained_at=str(data["trained_at"]),
            training=dict(data["training"]),
            model=dict(data["model"]),
            term_frequencies={
                str(k): {str(h): float(f) for h, f in v.items()}
                for k, v in dict(data.get("term_frequencies") or {}).items()
            },
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable model artefact; retrain with --retrain") from exc
