"""``python -m infra.local`` (``make run``): start the local stack, print where everything is, and run
until Ctrl-C or SIGTERM, then save the state and exit 0."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from infra.local.stack import LocalStack, StackError, StackSettings


def main() -> int:
    """Run the stack in the foreground; returns the exit code."""
    # The platform logs JSON through Powertools on its own handler; this is for the stack and libraries.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("infra.local").setLevel(logging.INFO)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        # A second Ctrl-C interrupts the orderly stop (and skips saving) instead of being ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = LocalStack(StackSettings())
    try:
        stack.start()
    except StackError as error:
        print(f"abo local stack: {error}", file=sys.stderr)
        return 1
    print(stack.summary(), flush=True)
    while not stopping.wait(1.0):
        pass
    print("Stopping: saving the state…", flush=True)
    try:
        stack.stop()
    except StackError as error:
        print(f"abo local stack: {error}", file=sys.stderr)
        return 1
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
