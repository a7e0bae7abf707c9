"""Local Runware API simulator (WebSocket + HTTP, fault injection). No Django imports."""

from ai_processing.simulator.server import RunwareSimulator, SimulatorCore
from ai_processing.simulator.state import Faults

__all__ = ["Faults", "RunwareSimulator", "SimulatorCore"]
