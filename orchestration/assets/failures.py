"""One mapping from the errors a user's inputs cause to Dagster input failures.

The config, raw, exports and daily assets run their input-reading steps inside
`input_failures(warehouse)`: unreadable programs, raw files or export settings become an
input failure, a warehouse held by another process a `warehouse_locked` one (both exit code 2
in the CLI, never retried); anything else propagates unchanged.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from orchestration.assets import VipErrorKind, input_failure
from orchestration.exports import outbox
from orchestration.exports.runner import ExportConfigError
from orchestration.loader import LoaderError
from orchestration.programs import ProgramsDirectoryError
from orchestration.resources import WarehouseLockedError, is_lock_error, locked_message

_LOCK_WORDS = ("lock", "in use")


@contextlib.contextmanager
def input_failures(warehouse: Path) -> Iterator[None]:
    """Raise the errors of the block as input failures (see the module docstring)."""
    try:
        yield
    except dg.Failure:
        raise
    except (ExportConfigError, outbox.WarehouseNotBuiltError) as exc:
        # no chained traceback: export settings may quote credentials' surroundings
        raise input_failure(str(exc)) from None
    except outbox.WarehouseBusyError as exc:
        raise input_failure(str(exc), VipErrorKind.WAREHOUSE_LOCKED) from None
    except ProgramsDirectoryError as exc:
        raise input_failure(str(exc)) from exc
    except LoaderError as exc:
        locked = any(word in str(exc).lower() for word in _LOCK_WORDS)
        kind = VipErrorKind.WAREHOUSE_LOCKED if locked else VipErrorKind.INPUT
        raise input_failure(str(exc), kind) from exc
    except WarehouseLockedError as exc:
        raise input_failure(str(exc), VipErrorKind.WAREHOUSE_LOCKED) from exc
    except Exception as exc:
        if is_lock_error(exc):
            raise input_failure(
                locked_message(warehouse, exc), VipErrorKind.WAREHOUSE_LOCKED
            ) from exc
        raise
