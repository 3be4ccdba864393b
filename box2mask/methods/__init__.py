"""Box-to-mask methods behind one interface (see :mod:`box2mask.methods.base`).

``get_method(name)`` builds one by name; :data:`METHODS` lists them.  The video
network (``"network"``) is the default everywhere once weights are present.
"""

from __future__ import annotations

from typing import Callable

from box2mask.errors import Box2MaskError
from box2mask.methods.base import FrameMask, Method, run_method
from box2mask.methods.filled_box import FilledBox
from box2mask.methods.grabcut import GrabCut

def _network(**options) -> Method:
    """The video network (imported on first use: it pulls in torch)."""
    from box2mask.methods.network import NetworkMethod

    return NetworkMethod(**options)


METHODS: dict[str, Callable[..., Method]] = {
    "network": _network,
    "filled-box": FilledBox,
    "grabcut": GrabCut,
}


def get_method(name: str, **options) -> Method:
    try:
        factory = METHODS[name]
    except KeyError:
        raise Box2MaskError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}") from None
    return factory(**options)


__all__ = ["FrameMask", "Method", "METHODS", "get_method", "run_method"]
