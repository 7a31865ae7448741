"""Named rule profiles: the numbers disclosure control applies, as data.

``joinedup`` is the default; ``acro`` reproduces ACRO 1.0.2's defaults (``acro/default.yaml``:
threshold 10, zeros disclosive, NK n=2 k=0.9, p-ratio 0.1, residual dof 10, suppress mode, margins
recomputed, no differencing audit); ``opensafely`` redacts <= 7 then rounds to 5 (midpoint 6 for
rates and survival).

Invariants: a profile is frozen; ``threshold`` is the smallest count released (a cell of
``threshold - 1`` people is never shown); every profile suppresses before it rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from joinedup.errors import ConfigError


class Conflict(StrEnum):
    """What a cross-release differencing conflict does to the new output."""

    REFUSE = "refuse"
    PERTURB = "perturb"  # cell-key perturbation, then audit again; refuse if still disclosive


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleProfile:
    name: str
    threshold: int  # a cell of fewer people is suppressed (primary suppression)
    zeros_disclosive: bool  # a zero cell is suppressed unless declared structural
    round_base: int  # counts rounded to this base after suppression (1 = no rounding)
    midpoint6: bool  # rates and survival counts rounded by midpoint 6
    nk_rules: tuple[tuple[int, float], ...]  # (n, k): top-n contributors >= k of the total fails
    p_ratio: float  # (total - top1 - top2) / top1 below this fails (p% rule)
    min_residual_dof: int
    max_param_share: float | None  # parameters <= share x n (DataSHIELD 0.33); None = no check
    level_threshold: int | None  # every categorical level (and level x outcome) cell >= this
    km_step: int  # Kaplan-Meier: each released step gathers >= this many events + censorings
    secondary: bool  # secondary suppression against margins known to an attacker
    block_extremes: bool  # min / max statistics refused
    differencing_audit: bool  # new outputs checked against the project's earlier releases
    on_conflict: Conflict
    perturb_max: int  # largest cell-key perturbation (counts), before rounding

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "zeros_disclosive": self.zeros_disclosive,
            "round_base": self.round_base,
            "midpoint6": self.midpoint6,
            "nk_rules": [list(r) for r in self.nk_rules],
            "p_ratio": self.p_ratio,
            "min_residual_dof": self.min_residual_dof,
            "max_param_share": self.max_param_share,
            "level_threshold": self.level_threshold,
            "km_step": self.km_step,
            "secondary": self.secondary,
            "block_extremes": self.block_extremes,
            "differencing_audit": self.differencing_audit,
            "on_conflict": self.on_conflict.value,
            "perturb_max": self.perturb_max,
        }


JOINEDUP = RuleProfile(
    name="joinedup",
    threshold=10,
    zeros_disclosive=True,
    round_base=5,
    midpoint6=True,
    nk_rules=((1, 0.5), (2, 0.85)),
    p_ratio=0.10,
    min_residual_dof=10,
    max_param_share=0.33,
    level_threshold=10,
    km_step=10,
    secondary=True,
    block_extremes=True,
    differencing_audit=True,
    on_conflict=Conflict.PERTURB,
    perturb_max=2,
)

ACRO = RuleProfile(
    name="acro",
    threshold=10,
    zeros_disclosive=True,
    round_base=1,
    midpoint6=False,
    nk_rules=((2, 0.9),),
    p_ratio=0.10,
    min_residual_dof=10,
    max_param_share=None,
    level_threshold=None,
    km_step=10,
    secondary=False,
    block_extremes=False,
    differencing_audit=False,
    on_conflict=Conflict.REFUSE,
    perturb_max=0,
)

OPENSAFELY = RuleProfile(
    name="opensafely",
    threshold=8,  # redact <= 7
    zeros_disclosive=False,
    round_base=5,
    midpoint6=True,
    nk_rules=((1, 0.5), (2, 0.85)),
    p_ratio=0.10,
    min_residual_dof=10,
    max_param_share=0.33,
    level_threshold=8,
    km_step=8,
    secondary=True,
    block_extremes=True,
    differencing_audit=True,
    on_conflict=Conflict.REFUSE,
    perturb_max=0,
)

PROFILES: dict[str, RuleProfile] = {p.name: p for p in (JOINEDUP, ACRO, OPENSAFELY)}


def get_profile(name: str) -> RuleProfile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(f"unknown disclosure-control profile {name!r}; known: {known}") from None


_ROWS: tuple[tuple[str, str], ...] = (
    ("threshold", "smallest count released (primary suppression below it)"),
    ("zeros_disclosive", "zero cells suppressed unless declared structural"),
    ("round_base", "counts rounded to this base after suppression (1 = none)"),
    ("midpoint6", "rates and survival counts rounded by midpoint 6"),
    ("nk_rules", "dominance: top n contributors holding >= k of a cell's total fail"),
    ("p_ratio", "p% rule: (total - top1 - top2) / top1 below this fails"),
    ("min_residual_dof", "models: smallest residual degrees of freedom"),
    ("max_param_share", "models: parameters <= share x n"),
    ("level_threshold", "models: every level (x outcome) cell at least this"),
    ("km_step", "Kaplan-Meier: events + censorings per released step"),
    ("secondary", "secondary suppression against known true margins"),
    ("block_extremes", "min / max refused"),
    ("differencing_audit", "new outputs audited against the project's earlier releases"),
    ("on_conflict", "what a differencing conflict does"),
    ("perturb_max", "largest cell-key perturbation"),
)


def render_profiles_markdown() -> str:
    """The profiles as one Markdown table (rendered into docs/reference/outputs.md)."""
    names = list(PROFILES)
    lines = [
        "| setting | " + " | ".join(f"`{n}`" for n in names) + " | meaning |",
        "|---|" + "---|" * len(names) + "---|",
    ]
    for key, meaning in _ROWS:
        cells = []
        for n in names:
            value = PROFILES[n].describe()[key]
            if isinstance(value, list):
                value = ", ".join(f"n={r[0]} k={r[1]}" for r in value)
            cells.append(f"`{value}`")
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {meaning} |")
    return "\n".join(lines) + "\n"
