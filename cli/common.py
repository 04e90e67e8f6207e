"""What both command groups share: known errors as one line and exit code 2, through click."""
from __future__ import annotations

import functools
import logging
from typing import IO, Callable, NoReturn

import click

EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """Bad input the user can fix: shown as `error: message`, exit code 2, no traceback."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: IO | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def fail(message: str) -> NoReturn:
    raise BadInput(message)


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


def verbosity_option(fn: Callable) -> Callable:
    """-v / --verbose: the library's log messages (INFO, or DEBUG with -vv) on stderr."""
    def setup(ctx, param, value):
        if value:
            logging.basicConfig(level=logging.DEBUG if value > 1 else logging.INFO,
                                format="%(levelname)s %(name)s: %(message)s")
        return value
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=setup, is_eager=True,
                        help="Log what the library does (-vv: more).")(fn)


# --no-verify, as every command that reads a store's poses takes it
no_verify_option = click.option("--no-verify", is_flag=True,
                                help="Do not check the store's content against its checksums.")
