"""Spreadsheet engines behind one small interface.

An engine compiles a fixture service once (load the workbook, build the input->output function) and
then evaluates it per request. ``evaluate`` always writes every input cell, so no value from one
request can survive into the next (SpreadAPI's shared-workbook leak, behaviour reference 1.10).
"""

from __future__ import annotations

from .base import CellValue, Engine, Evaluator, OutputValue, normalise
from .registry import ENGINES, get_engine

__all__ = ["ENGINES", "CellValue", "Engine", "Evaluator", "OutputValue", "get_engine", "normalise"]
