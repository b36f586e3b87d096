from __future__ import annotations

from .base import Engine

ENGINES = ("formulas", "formualizer")


def get_engine(name: str = "formulas") -> Engine:
    if name == "formulas":
        from .formulas_engine import FormulasEngine

        return FormulasEngine()
    if name == "formualizer":
        from .formualizer_engine import FormualizerEngine

        return FormualizerEngine()
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
