"""structlog for our own logs, routed through the standard library so Django's and DBOS's logs share the format.

Everything goes to stderr: stdout is kept for the data a command prints.
"""

from __future__ import annotations

from typing import Any

import structlog

_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def logging_config(*, level: str, json: bool) -> dict[str, Any]:
    """The `LOGGING` dict for Django; also configures structlog once."""
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
                "foreign_pre_chain": _SHARED_PROCESSORS,
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "structured",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # httpx logs every vendor request's URL at INFO, and a URL can name a customer (an email as a CRM id);
            # pika logs each failed reconnection with a traceback at ERROR: the bus logs its own warning.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "pika": {"level": "CRITICAL"},
            "dbos": {"level": "WARNING" if level == "INFO" else level, "propagate": True},
        },
    }
