"""kopf handlers, one module per watched resource; `kopf run -m airlock_operator.handlers`.

Every handler only records what it saw (`Controller.observe`); the controller's loop does the
work. The handlers are `on.event` handlers: they put no finalizers or annotations on anything,
so a missing or restarted operator never blocks a user's delete.
"""

from airlock_operator.handlers import (  # noqa: F401
    deployments,
    endpointslices,
    gatewayclasses,
    gateways,
    httproutes,
    lifecycle,
    namespaces,
    policies,
    referencegrants,
    secrets,
    services,
)
