"""The six phases of Porter's care delivery value chain, in care order: the one list every
definition, engine stage and report uses."""

from __future__ import annotations

from typing import Literal, get_args

Phase = Literal[
    "monitoring-preventing", "diagnosing", "preparing", "intervening",
    "recovering-rehabbing", "monitoring-managing",
]
PHASES: tuple[str, ...] = get_args(Phase)
