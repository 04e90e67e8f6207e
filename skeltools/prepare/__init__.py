"""`skel prepare`: raw files (or an mmaction2/pyskl pickle) -> one store.

`run` drives the stages (its docstring lists them), `plan` decides what a run does before
and after reading, `stages` is the work the pool runs, `pool` the generic ordered process
pool, `handoff` where a batch's arrays wait for the chunks, `records` every record that
crosses a process boundary, `interrupt` Ctrl-C and SIGTERM, `mmaction` the pickle path,
`custom` your own recordings from an index file.
"""
from .custom import prepare_custom
from .interrupt import Stopped
from .mmaction import prepare_from_mmaction
from .run import prepare
from .summary import EmptyResult, PrepareSummary

__all__ = ["EmptyResult", "PrepareSummary", "Stopped", "prepare", "prepare_custom", "prepare_from_mmaction"]
