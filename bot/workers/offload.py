"""A thread pool of its own for the workers' short database calls (update claims, rate-limit
checks, the lease, heartbeats), so that they never wait in line behind answers, which fill
asyncio's default pool with model runs; a lease renewal that waits there could expire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sectorbot-db")


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in the bookkeeping pool, awaited without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)
