"""PostgreSQL and Redis for the test suite: the configured servers when they answer,
throw-away ones started from the lock file's wheels when they do not.

    with backing_services(os.environ) as env:   # {AGENTOPIA_TEST_POSTGRES_URL: ..., ...}
        ...

`python -m tools.backing -- CMD...` runs CMD with those variables set.
"""

from tools.backing.addresses import MODE_VAR, POSTGRES_VAR, REDIS_VAR
from tools.backing.session import backing_services

__all__ = ["MODE_VAR", "POSTGRES_VAR", "REDIS_VAR", "backing_services"]
