"""The published services and their compiled workbooks, one compile per service per process."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import anyio
import anyio.to_thread

from ..engine import CellValue, Evaluator, OutputValue, get_engine
from ..fixtures import ServiceDef
from .faults import active


class Catalog:
    def __init__(
        self, services: Mapping[str, ServiceDef], engine: str = "formulas", faults: frozenset[str] = frozenset()
    ):
        self.services = dict(services)
        self.faults = faults  # deployment bugs to reproduce (reference.faults), for the selftest
        self._last_cells: dict[str, dict[str, CellValue]] = {}
        self._engine = get_engine(engine)
        self.engine_name = engine
        self._compiled: dict[str, Evaluator] = {}
        # A threading lock, not an asyncio one: compiles run in worker threads and the catalog is shared
        # by whatever event loops call it (in-process tests start one per test).
        self._lock = threading.Lock()

    def get(self, service_id: str) -> ServiceDef | None:
        return self.services.get(service_id)

    def _evaluator(self, service_id: str) -> Evaluator:
        with self._lock:
            if service_id not in self._compiled:
                self._compiled[service_id] = self._engine.compile(self.services[service_id])
            return self._compiled[service_id]

    def stage(self, service_id: str, cells: Mapping[str, CellValue]) -> None:
        """Write ``cells`` into the service's reused workbook ahead of the calculation (fault
        workbook-written-before-validation: the values as sent, before anything checked them)."""
        self._last_cells[service_id] = {**self._last_cells.get(service_id, {}), **cells}

    def warm_up(self) -> None:
        for service_id in self.services:
            self._evaluator(service_id)

    async def evaluate(self, service_id: str, cells: Mapping[str, CellValue]) -> dict[str, OutputValue]:
        evaluator = self._compiled.get(service_id)
        if evaluator is None:  # compiling takes a second or more: keep the event loop free meanwhile
            evaluator = await anyio.to_thread.run_sync(self._evaluator, service_id)
        # An evaluation takes milliseconds and holds the GIL either way; a thread hop would only add
        # its own cost (measured ~0.8 ms a request) without letting anything else run.
        if active(self.faults, "workbook-state-leaks") or active(self.faults, "workbook-written-before-validation"):
            cells = self._last_cells[service_id] = {**self._last_cells.get(service_id, {}), **cells}
        if active(self.faults, "workbook-shared-without-lock"):
            # One workbook per service: write the inputs, yield while "the sheet recalculates", then read it.
            # With no lock, a concurrent call writes its inputs in between and this one computes with them.
            self._last_cells[service_id] = dict(cells)
            await anyio.sleep(0.01)
            cells = self._last_cells[service_id]
        return evaluator.evaluate(cells)
