"""User-facing errors: each becomes one clear line on stderr and exit status 2 in the CLI."""


class EvalkitError(Exception):
    """Base class of errors the CLI reports as one line with exit status 2."""


class CheckpointError(EvalkitError):
    """A model file is missing, truncated or does not match its config."""


class DataError(EvalkitError):
    """A data file is malformed; the message names the file, the line or record, and the field."""


class UsageError(EvalkitError):
    """Unknown task, model, suite or a bad flag value."""


class RequestError(EvalkitError):
    """A request that has no truthful answer: a continuation that tokenizes to nothing, or a model whose
    output is not finite (NaN or inf weights). `request` is the request at fault, so that the runner can
    name the task and the document."""

    def __init__(self, message: str, request=None):
        super().__init__(message)
        self.request = request


class ScorerError(EvalkitError):
    """A scorer could not judge at all (a service unreachable after its retries, a box that cannot start)."""
