"""Moved: the adapter contract lives in `connector.crm` (the core owns the interface it calls).

Kept only so branches written before the move still import; new code imports `connector.crm`.
"""

from connector.crm import (
    Adapter,
    AdapterContext,
    Capability,
    Contact,
    JobKind,
    MemoryState,
    StateStore,
    canonical_json,
    job_key,
)

__all__ = [
    "Adapter",
    "AdapterContext",
    "Capability",
    "Contact",
    "JobKind",
    "MemoryState",
    "StateStore",
    "canonical_json",
    "job_key",
]
