"""Behaviour guards of the run identity: a change of what a component computes must come with a version bump.

A run's key holds the declared versions of the components it uses
(:mod:`c2f_utils.identity`), not their source. Each component's outputs on fixed tiny
inputs (:mod:`behaviour`) are committed in ``tests/digests/components.json`` with the
version they were computed at. A difference at the same version means the component's
behaviour changed without its version being bumped: the committed results of the runs
that use it (named in the failure) would pass for current while they are not.
"""

from __future__ import annotations

import json

import pytest
from behaviour import DIGESTS, PROBES, component_digest, differences, users

from c2f_utils.identity import COMPONENTS

RECORDED = json.loads((DIGESTS / "components.json").read_text())


def test_every_declared_component_has_a_probe_and_a_digest() -> None:
    assert set(PROBES) == set(COMPONENTS)
    assert set(RECORDED) == set(COMPONENTS), "run python3 tasks.py digests and commit tests/digests"


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_component_behaves_as_its_declared_version(name: str) -> None:
    recorded = RECORDED[name]
    if recorded["version"] != COMPONENTS[name]:
        pytest.fail(
            f"{name}: version {recorded['version']} in the digests, {COMPONENTS[name]} declared: "
            "regenerate them (python3 tasks.py digests) and commit tests/digests"
        )
    now = component_digest(name)
    changed = differences(recorded["outputs"], now["outputs"])
    if changed:
        pytest.fail(
            f"{name} computes something else than at version {COMPONENTS[name]} (outputs {changed}). "
            f"If this is intended, bump COMPONENTS[{name!r}] in c2f_utils/identity.py and run python3 tasks.py "
            f"digests; that re-keys these runs (their committed results become stale): {users(name)}"
        )


def test_differences_sees_a_one_percent_change_and_ignores_float32_noise() -> None:
    recorded = {"loss": [1.0, 2.5, 6.25], "grad": [3.0, 0.1]}
    assert differences(recorded, recorded) == []
    assert differences(recorded, {"loss": [1.0, 2.5 * (1 + 1e-7), 6.25], "grad": [3.0, 0.1]}) == []
    assert differences(recorded, {"loss": [1.0, 2.525, 6.25], "grad": [3.0, 0.1]}) == ["loss"]
    assert differences(recorded, {"loss": [1.0, 2.5, 6.25]}) == ["grad"]
