"""What both command groups share: turning known errors into one line and exit code 2."""
from __future__ import annotations

import functools
import sys
from typing import Callable

import click

EXIT_BAD_INPUT = 2


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def clean_errors(*kinds: type[BaseException]) -> Callable:
    """Report the given exception types as `error: ...` with exit code 2, not a traceback."""
    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except kinds as e:
                fail(str(e))
        return wrapper
    return deco
