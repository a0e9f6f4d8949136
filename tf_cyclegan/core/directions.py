"""The one place that knows how a run's names relate.

A dataset has domains A and B (trainA/, trainB/). The paper's networks work between X and Y: G maps X to Y
and F maps Y to X. --direction AtoB makes X = A; BtoA makes X = B. Exports, translate and evaluate speak of
directions: a2b translates A images into B images, b2a the other way, whichever network that is.
"""

from __future__ import annotations

DIRECTIONS = ("a2b", "b2a")
RUN_DIRECTIONS = ("AtoB", "BtoA")


def xy_domains(run_direction: str) -> dict[str, str]:
    """{"X": "A", "Y": "B"} for AtoB, swapped for BtoA."""
    if run_direction not in RUN_DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(RUN_DIRECTIONS)}, got {run_direction!r}")
    return {"X": "A", "Y": "B"} if run_direction == "AtoB" else {"X": "B", "Y": "A"}


def direction_from(source: str, run_direction: str) -> str:
    """The direction (a2b or b2a) of a network that translates domain `source` (X or Y)."""
    return "a2b" if xy_domains(run_direction)[source] == "A" else "b2a"


def by_direction(networks: dict, sources: dict[str, str], run_direction: str) -> dict:
    """{direction: network} from {name: network} and {name: its source domain (X or Y)}, a2b first."""
    found = {direction_from(sources[name], run_direction): net for name, net in networks.items()}
    return {d: found[d] for d in DIRECTIONS if d in found}


def ab_names(xy_names: dict[str, str], run_direction: str) -> dict[str, str]:
    """{"A": name, "B": name} from the run's {"X": name, "Y": name} (domains.json)."""
    xy = xy_domains(run_direction)
    return {xy["X"]: xy_names["X"], xy["Y"]: xy_names["Y"]}


def source_target(names: dict[str, str], direction: str) -> tuple[str, str]:
    """(source, target) names of a direction, from {"A": name, "B": name}."""
    return (names["A"], names["B"]) if direction == "a2b" else (names["B"], names["A"])


def swap_ab(pair: tuple, run_direction: str) -> tuple:
    """(x, y) from an (a, b) pair: the pair itself for AtoB, swapped for BtoA."""
    return tuple(pair) if run_direction == "AtoB" else tuple(pair)[::-1]
