"""Run the real daemon with Python 3.10's timeout exceptions, on any newer Python: ``asyncio.wait_for`` raises an
``asyncio.TimeoutError`` and ``Future.result`` a ``concurrent.futures.TimeoutError`` that are NOT the builtin
``TimeoutError`` (they became aliases of it in 3.11). Code that catches the builtin then misses them, as on a
Jetson's Python 3.10.

Usage: python tests/daemon/py310_timeouts.py [daemon options...]   (exit 3: this Python cannot be made to act so)
"""

from __future__ import annotations

import asyncio
import asyncio.exceptions
import concurrent.futures
import concurrent.futures._base
import sys

SSE_KEEPALIVE = 0.3  # s: keep-alive comments come quickly enough for a test to wait for one


class AsyncioTimeoutError(Exception):
    """asyncio.TimeoutError of Python <= 3.10."""


class FuturesTimeoutError(concurrent.futures._base.Error):
    """concurrent.futures.TimeoutError of Python <= 3.10."""


def simulate_py310_timeouts() -> bool:
    """Swap the classes in; True when asyncio.wait_for and Future.result now raise them."""
    asyncio.exceptions.TimeoutError = AsyncioTimeoutError  # type: ignore[misc,assignment]
    asyncio.TimeoutError = AsyncioTimeoutError  # type: ignore[misc,assignment]
    concurrent.futures._base.TimeoutError = FuturesTimeoutError  # type: ignore[misc,assignment]
    concurrent.futures.TimeoutError = FuturesTimeoutError  # type: ignore[misc,assignment]
    try:
        asyncio.run(asyncio.wait_for(asyncio.sleep(1.0), 0.01))
    except AsyncioTimeoutError:
        pass
    except TimeoutError:
        return False  # Python >= 3.12: wait_for raises the builtin directly
    try:
        concurrent.futures.Future().result(0.01)
    except FuturesTimeoutError:
        return True
    except TimeoutError:
        return False
    return False


def main() -> int:
    if not simulate_py310_timeouts():
        print("py310_timeouts: cannot simulate Python 3.10's timeout classes on this Python", flush=True)
        return 3
    from edge_asr.app_setup import setup_logging
    from edge_asr.daemon import app
    from edge_asr.daemon.launch import add_arguments, overrides_from_args
    from edge_asr.daemon.server import run_daemon

    app.SSE_KEEPALIVE = SSE_KEEPALIVE
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(sys.argv[1:])
    setup_logging(0)
    return run_daemon(args.config, overrides_from_args(args))


if __name__ == "__main__":
    sys.exit(main())
