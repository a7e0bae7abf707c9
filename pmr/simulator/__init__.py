"""Local PMR simulator: the calls of pmr/contract/pmr-v1.yaml, fault injection, webhooks.

No Django imports. ``python -m pmr.simulator`` runs it; tests use ``PMRSimulator`` in-process.
See docs/pmr.md "Simulator".
"""

from pmr.simulator.server import DEFAULT_PORT, PMRCore, PMRSimulator
from pmr.simulator.state import Faults

__all__ = ["DEFAULT_PORT", "Faults", "PMRCore", "PMRSimulator"]
