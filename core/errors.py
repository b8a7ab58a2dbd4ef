"""One exception root so the kiosk can catch everything of ours, each also a built-in kind.

Every message is meant to be shown to a person as-is: one sentence that says what is wrong
and, where there is one, which command fixes it.
"""


class SmileMirrorError(Exception):
    """Root of every error Smile Mirror raises on purpose."""


class ConfigError(SmileMirrorError, ValueError):
    """A config file or option is unreadable, unknown, of the wrong type or out of range."""


class ModelError(SmileMirrorError, RuntimeError):
    """The Face Landmarker model is missing, truncated, altered or cannot be fetched."""


class AssetError(SmileMirrorError, RuntimeError):
    """A verified asset (model, demo image) could not be provisioned."""


class SourceError(SmileMirrorError, OSError):
    """A frame source cannot be opened or has stopped delivering frames."""


class FrameError(SmileMirrorError, ValueError):
    """A frame is unusable (wrong shape, dtype, channels); it is skipped and counted."""


class ImageReadError(SmileMirrorError, OSError):
    """An image file cannot be decoded."""
