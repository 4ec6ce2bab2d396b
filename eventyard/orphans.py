"""Child processes that end with the process that started them (Linux).

A worker left running after `eventyard run` was SIGKILLed (OOM killer, `kill -9`,
a CI timeout) keeps consuming and keeps its task stores locked, so the next
`eventyard run` fails with StoreLockedError; an embedded broker left behind keeps
its port. Linux's parent-death signal ends them instead.

It is armed in the child, through a small trampoline that then execs the real
command (the setting survives exec), rather than in a `preexec_fn`, which is not
safe in a parent that has threads. Linux sends it when the thread that started
the child exits, so children are started from the main thread. Elsewhere the
trampoline just execs the command.

    python -m eventyard.orphans PARENT_PID PROGRAM [ARGS...]
"""

from __future__ import annotations

import os
import signal
import sys

from eventyard.importing import python_module_command
from eventyard.libc import libc

__all__ = ["ending_with_this_process", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


def ending_with_this_process(command: list[str]) -> list[str]:
    """`command`, run so that it gets SIGTERM when this process exits."""
    return [*python_module_command("eventyard.orphans"), str(os.getpid()), *command]


def die_with_parent(parent_pid: int) -> bool:
    """SIGTERM this process when its parent exits; False where Linux's prctl is missing.

    Exits at once if the parent is already gone (it could die before the signal
    was armed: this process would then have been adopted by another).
    """
    lib = libc() if sys.platform.startswith("linux") else None
    if lib is None or lib.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:
        raise SystemExit(f"parent process {parent_pid} exited before this one started")
    return True


def main(argv: list[str]) -> None:
    parent, program = int(argv[0]), argv[1]
    die_with_parent(parent)
    os.execvp(program, argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
