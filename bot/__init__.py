"""sectorbot's people side: settings, the CLI, the Telegram adapter, alerts."""

__version__ = "0.1.0"
