"""Scorecards: one row per claim (the paper's number, ours, the verdict, the runs excluded),
a chapter's power note, and the book's table of what holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .._checks import check_positive_int
from ._inputs import check_frame
from .policy import BENCHMARK, MAX_SEEDS, MIN_SEEDS
from .validity import Validity
from .verdicts import Finding

__all__ = ["Claim", "power_note", "scorecard", "what_holds", "where", "where_benchmark"]


@dataclass(frozen=True)
class Claim:
    """One scorecard row: a claim, the paper's number (a labelled reference), and our finding.

    ``where`` names the profile, data and seeds the finding comes from; ``validity`` the
    runs the claim draws on, valid or excluded (None: no run can fail, e.g. a closed form).
    """

    claim: str
    finding: Finding
    where: str
    paper: str = "—"
    validity: Validity | None = None

    def __post_init__(self) -> None:
        for name in ("claim", "where", "paper"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Expected `{name}` to be a non-empty string, got {getattr(self, name)!r}")
        if not isinstance(self.finding, Finding):
            raise TypeError(f"Expected `finding` to be a Finding, got {self.finding!r}")
        if self.validity is not None and not isinstance(self.validity, Validity):
            raise TypeError(f"Expected `validity` to be a Validity or None, got {self.validity!r:.80}")

    @property
    def reason(self) -> str:
        """Why the claim is not tested: the finding's reason, led by the invalid runs where some were excluded."""
        f, v = self.finding, self.validity
        if f.verdict != "not tested":
            return ""
        if v is not None and v.excluded and f.reason.endswith(f"fewer than {MIN_SEEDS}"):
            return f"{len(v.excluded)} of {v.total} runs invalid (required: {v.checks_failed()}); {f.reason}"
        return f.reason


def _to_decide(finding: Finding) -> str:
    """The scorecard's power note: ``"decided"``, the seeds an inconclusive claim would need, or ``"—"``."""
    if finding.verdict in ("reproduced", "contradicted"):
        return "decided"
    if finding.verdict == "not tested":
        return "—"
    n = finding.effect.n if finding.effect is not None else 0
    if finding.seeds_needed is None:
        return f"more than {MAX_SEEDS} (at the observed effect and spread)"
    return f"about {finding.seeds_needed} (now {n})"


def scorecard(claims: Sequence[Claim]) -> pd.DataFrame:
    """The scorecard table, one row per claim: claim, paper (reference), ours, where, test, verdict,
    the reason of a "not tested", the seeds that would decide an inconclusive claim at the
    observed effect and spread (:func:`~c2f_utils.report.seeds_to_decide`, :data:`~c2f_utils.report.POWER`),
    the valid runs and the runs excluded as invalid (and why)."""
    if isinstance(claims, str | bytes) or not isinstance(claims, Sequence):
        raise TypeError(f"Expected `claims` to be a sequence of Claim, got {claims!r:.80}")
    if not claims:
        raise ValueError("Expected `claims` with at least one Claim, got none")
    bad = [c for c in claims if not isinstance(c, Claim)]
    if bad:
        raise TypeError(f"Expected `claims` to hold Claim objects, got {bad[0]!r:.80}")
    rows = [
        {
            "claim": c.claim,
            "paper (reference)": c.paper,
            "ours": c.finding.ours,
            "profile, data, seeds": c.where,
            "test": c.finding.test,
            "verdict": c.finding.verdict,
            "why not tested": c.reason,
            "seeds to decide": _to_decide(c.finding),
            "valid runs": "—" if c.validity is None else c.validity.counts(),
            "excluded runs (why)": "—" if c.validity is None else c.validity.summary(),
        }
        for c in claims
    ]
    return pd.DataFrame(rows).set_index("claim")


def power_note(card: pd.DataFrame) -> str:
    """One sentence on what a scorecard's seed counts can decide (the chapter's power note):
    how many claims are decided, and for the inconclusive ones how many seeds the observed
    effect and spread would need (:func:`~c2f_utils.report.seeds_to_decide`, at
    :data:`~c2f_utils.report.POWER`), read from the card's ``verdict`` and ``seeds to decide`` columns.
    """
    if not isinstance(card, pd.DataFrame) or not {"verdict", "seeds to decide"} <= set(card.columns):
        raise ValueError(
            f"Expected `card` as a scorecard with 'verdict' and 'seeds to decide' columns, got {card!r:.80}"
        )
    verdict, needs = card["verdict"].astype(str), card["seeds to decide"].astype(str)
    tested = int((verdict != "not tested").sum())
    decided = int(verdict.isin(["reproduced", "contradicted"]).sum())
    undecided = needs[verdict == "inconclusive"]
    counts = undecided.str.extract(r"^about (\d+)", expand=False).dropna().astype(int)
    hopeless = int(undecided.str.startswith("more than").sum())
    text = f"{decided} of {tested} tested claims decided"
    if len(undecided):
        parts = []
        if len(counts):
            span = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
            parts.append(f"{len(counts)} would need about {span} seeds at the observed effect and spread")
        if hopeless:
            parts.append(f"{hopeless} more than {MAX_SEEDS} (no practical seed count decides it)")
        text += f"; of the {len(undecided)} inconclusive, " + ", ".join(parts)
    untested = len(card) - tested
    return text + (f"; {untested} not tested." if untested else ".")


def where(profile: str, data: str, seeds: Sequence[int]) -> str:
    """``"quick; digits; seeds 0-2"`` for a :class:`Claim`."""
    for label, value in (("profile", profile), ("data", data)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"Expected `{label}` to be a non-empty string, got {value!r}")
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise TypeError(f"Expected `seeds` to be a sequence of seeds, got {seeds!r}")
    seeds = [check_positive_int("seeds", v, minimum=0) for v in seeds]
    if len(set(seeds)) != len(seeds):  # one run counted twice would pass for two independent ones
        raise ValueError(f"Expected distinct `seeds`, got {seeds}")
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        text = f"{seeds[0]}-{seeds[-1]}"
    else:
        text = ",".join(map(str, seeds))
    return f"{profile}; {data}; seeds {text}"


def where_benchmark(name: str, device: str, detail: str) -> str:
    """``"benchmark; criteria_step on NVIDIA H100; 50 rounds"`` for a :class:`Claim` whose
    evidence is a recorded benchmark (:func:`c2f_utils.evidence.benchmark_records`)."""
    for label, value in (("name", name), ("device", device), ("detail", detail)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"Expected `{label}` to be a non-empty string, got {value!r}")
    return f"{BENCHMARK}; {name} on {device}; {detail}"


def _effect(ours: str) -> str:
    """The effect and its interval out of a scorecard's ``ours`` text (its ``difference`` part when there is one)."""
    marker = "; difference "
    return ours.split(marker, 1)[1] if marker in ours else ours


def what_holds(
    cards: Mapping[str, Mapping[str, pd.DataFrame]],
    titles: Mapping[str, str] | None = None,
    links: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every claim of the book, one row per (paper, claim): per profile its verdict (with the
    reason of a "not tested"), our effect with its interval, and the valid runs.

    ``cards`` maps a chapter to its scorecards per profile (:func:`scorecard` tables);
    ``titles`` names a chapter's paper (default: the chapter), ``links`` its page (a
    ``chapter`` column is added with the link). A claim a profile does not make is ``—``.
    """
    if not isinstance(cards, Mapping) or not cards:
        raise TypeError(
            f"Expected `cards` to be a non-empty mapping chapter -> profile -> scorecard, got {cards!r:.80}"
        )
    titles, links = dict(titles or {}), dict(links or {})
    rows: dict[tuple[str, str], dict[str, str]] = {}
    profiles: list[str] = []
    for chapter, per_profile in cards.items():
        for profile, card in per_profile.items():
            check_frame(card.reset_index(), ("cards", ["claim", "ours", "verdict"]))
            profiles += [profile] * (profile not in profiles)
            for claim, row in card.iterrows():
                key = (titles.get(chapter, chapter), str(claim))
                entry = rows.setdefault(key, {"chapter": links.get(chapter, chapter)})
                why = row.get("why not tested", "")
                entry[f"{profile}: verdict"] = row["verdict"] + (f" ({why})" if isinstance(why, str) and why else "")
                entry[f"{profile}: effect [interval]"] = _effect(str(row["ours"]))
                entry[f"{profile}: valid runs"] = str(row.get("valid runs", "—"))
    columns = ["chapter"] + [f"{p}: {c}" for p in profiles for c in ("verdict", "effect [interval]", "valid runs")]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns).fillna("—")
    table.index = pd.MultiIndex.from_tuples(list(rows), names=["paper", "claim"])
    return table
