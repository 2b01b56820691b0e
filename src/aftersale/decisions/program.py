"""A play's steps as a flat program, so journeys can be advanced for all customers at once.

Nested branches become forward jumps: every instruction knows the position that follows it
(``next``) and, for a branch, where its ``otherwise`` starts (``alt``). A journey is then just
a position in its play's program, and advancing every journey one instruction is one join of
the journeys with the table of instructions (:func:`instruction_table`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

import polars as pl

from aftersale.playbooks.schema import (
    BranchStep,
    ExitStep,
    Play,
    SendStep,
    Step,
    WaitStep,
    WaitUntilStep,
    parse_duration,
)

__all__ = ["INSTRUCTION_SCHEMA", "Instruction", "compile_play", "instruction_table"]

Kind = Literal["send", "wait", "wait_until", "branch", "exit", "end"]
_Pending = list[tuple[int, str]]
"""(position, field) pairs still pointing at whatever comes after the block being laid out."""


@dataclass(frozen=True, slots=True)
class Instruction:
    """One step of a play at its position in the flat program."""

    pc: int
    kind: Kind
    step_id: str
    next: int = -1
    alt: int = -1
    seconds: float = 0.0
    event: str | None = None
    where: str | None = None
    match: str = "none"
    exit_on_timeout: bool = False
    condition: str | None = None


def compile_play(play: Play) -> list[Instruction]:
    """The play's steps in document order with jumps; the last instruction is ``end``."""
    program: list[Instruction] = []

    def patch(pending: _Pending, target: int) -> None:
        for position, field in pending:
            if field == "next":
                program[position] = replace(program[position], next=target)
            else:
                program[position] = replace(program[position], alt=target)

    def lay(steps: list[Step]) -> _Pending:
        pending: _Pending = []
        for step in steps:
            here = len(program)
            patch(pending, here)
            pending = []
            if isinstance(step, BranchStep):
                program.append(
                    Instruction(here, "branch", step.id, here + 1, condition=step.condition)
                )
                pending = lay(step.then)
                if step.otherwise:
                    program[here] = replace(program[here], alt=len(program))
                    pending += lay(step.otherwise)
                else:
                    pending.append((here, "alt"))
            elif isinstance(step, ExitStep):
                program.append(Instruction(here, "exit", step.id))
            elif isinstance(step, SendStep):
                program.append(Instruction(here, "send", step.id))
                pending = [(here, "next")]
            elif isinstance(step, WaitStep):
                seconds = parse_duration(step.duration).total_seconds()
                program.append(Instruction(here, "wait", step.id, seconds=seconds))
                pending = [(here, "next")]
            elif isinstance(step, WaitUntilStep):
                program.append(_wait_until(here, step))
                pending = [(here, "next")]
        return pending

    patch(lay(play.steps), len(program))
    program.append(Instruction(len(program), "end", "end"))
    return program


def _wait_until(here: int, step: WaitUntilStep) -> Instruction:
    timeout = parse_duration(step.timeout)
    return Instruction(
        here,
        "wait_until",
        step.id,
        seconds=timeout / timedelta(seconds=1),
        event=step.event,
        where=json.dumps(step.where, sort_keys=True) if step.where else None,
        match=step.match,
        exit_on_timeout=step.on_timeout == "exit",
    )


INSTRUCTION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "play_id": pl.String,
    "pc": pl.Int64,
    "kind": pl.String,
    "step_id": pl.String,
    "next": pl.Int64,
    "alt": pl.Int64,
    "seconds": pl.Float64,
    "event": pl.String,
    "where": pl.String,
    "match": pl.String,
    "exit_on_timeout": pl.Boolean,
    "condition": pl.String,
}


def instruction_table(plays: list[Play]) -> pl.DataFrame:
    """Every enabled play's program as one frame keyed by (play_id, pc)."""
    rows = [
        {"play_id": play.id, **{k: getattr(i, k) for k in INSTRUCTION_SCHEMA if k != "play_id"}}
        for play in plays
        for i in compile_play(play)
    ]
    return pl.DataFrame(rows, schema=INSTRUCTION_SCHEMA)
