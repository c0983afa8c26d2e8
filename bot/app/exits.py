"""The command line's exit codes, and :class:`CliExit`, which a command raises to end with
one of them and a message.

0 done; 1 kie.ai refused the job or the generation failed; 2 invalid input; 3 configuration
error; 4 deadline passed or createTask outcome unknown; 130 interrupted (Ctrl-C), 143 stopped
by SIGTERM (both take the same graceful path).
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_CONFIG, EXIT_UNKNOWN, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class CliExit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
