"""User-facing errors: each becomes one clear line on stderr and exit status 2 in the CLI."""


class EvalkitError(Exception):
    """Base class of errors the CLI reports as one line with exit status 2."""


class CheckpointError(EvalkitError):
    """A model file is missing, truncated or does not match its config."""


class DataError(EvalkitError):
    """A data file is malformed; the message names the file, the line or record, and the field."""


class UsageError(EvalkitError):
    """Unknown task, model, suite or a bad flag value."""


class ScorerError(EvalkitError):
    """A scorer could not judge at all (a service unreachable after its retries, a box that cannot start)."""
