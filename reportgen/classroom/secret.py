"""The class secret: where it comes from, and the fingerprint that tells keys of another secret apart.

Light on purpose: the command line imports it before it knows whether any work is needed.
"""

from __future__ import annotations

import hashlib
import os

from reportgen.config.schema import Config
from reportgen.infra.errors import ConfigError

#: Where the secret may come from when the config has none.
SECRET_ENV = "REPORTGEN_CLASS_SECRET"


def class_secret(config: Config) -> str:
    """The class secret: ``[classroom] secret``, else $REPORTGEN_CLASS_SECRET; refuse to go on without one."""
    secret = config.classroom.secret or os.environ.get(SECRET_ENV, "")
    if not secret:
        raise ConfigError(f"a class needs a secret: set [classroom] secret in the config or {SECRET_ENV} "
                          "(keep it: the same secret rebuilds the same variants and grades them)")
    return secret


def fingerprint(secret: str) -> str:
    """A short fingerprint of the secret, stored in the key to tell keys of another secret apart (not the secret)."""
    return hashlib.sha256(b"reportgen-class-fingerprint\0" + secret.encode()).hexdigest()[:16]
