"""One exception family for the toolchain.

Every error a user can cause is an ``SnnError`` whose message is one line that
names the problem and the fix. The CLI entry points catch it, print the line
and exit with code 2, never a traceback.
"""

__all__ = [
    "SnnError",
    "CheckpointError",
    "ConfigError",
    "ExportError",
    "ToolMissingError",
    "TrainingError",
    "BoardError",
    "ProtocolError",
]


class SnnError(Exception):
    """Base of every user-facing error."""


class CheckpointError(SnnError):
    """A checkpoint that is missing, corrupt or not ours."""


class ConfigError(SnnError):
    """A wrong option or configuration value."""


class ExportError(SnnError):
    """The export could not produce a model that passes its own checks."""


class TrainingError(SnnError):
    """Training diverged: a loss or weight became NaN or infinite."""


class ToolMissingError(SnnError):
    """An external program (compiler, emulator, flasher) is not installed."""


class BoardError(SnnError):
    """The board or its port cannot be reached, or does not answer."""


class ProtocolError(BoardError):
    """A frame was malformed, failed its CRC, or answered the wrong request."""
