"""procnet: a userspace emulator of the Linux network receive backlog, driven through files."""

__version__ = "0.1.0"
