"""Every path through a state machine definition, to check properties no linter checks.

A path is the list of state names from ``StartAt`` to a terminal state (``Succeed``,
``Fail`` or ``End``), following ``Next``, every ``Choice`` branch, ``Default`` and every
``Catch``. Parallel branches are walked as machines of their own (``tasks``). Retries do
not change a path. The definitions have no loops; a loop raises ``ValueError``.
"""

from typing import Dict, Iterator, List


def successors(state: Dict) -> List[str]:
    """The states control may go to after ``state``: Next, Choices, Default and Catch targets."""
    names = [state["Next"]] if "Next" in state else []
    names += [choice["Next"] for choice in state.get("Choices", [])]
    names += [state["Default"]] if "Default" in state else []
    names += [catcher["Next"] for catcher in state.get("Catch", [])]
    return list(dict.fromkeys(names))


def paths(definition: Dict, start: str = None) -> Iterator[List[str]]:
    """Every path from ``start`` (default ``StartAt``) to a terminal state."""
    states = definition["States"]

    def walk(name: str, trail: List[str]) -> Iterator[List[str]]:
        if name in trail:
            raise ValueError(f"loop through {name!r}: {' -> '.join(trail + [name])}")
        trail = trail + [name]
        following = successors(states[name])
        if not following:
            yield trail
        for next_name in following:
            yield from walk(next_name, trail)

    yield from walk(start or definition["StartAt"], [])


def tasks(definition: Dict) -> Iterator[tuple]:
    """``(name, state)`` of every Task, inside Parallel branches too."""
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from tasks(branch)
