"""Joining a Ray cluster, for the eval's workers (``foreman.workers``) and PPO's rollout actors.

A utility below every floor: it imports only Ray (optional: ``foreman[ray]``) and foreman's errors.
"""

from __future__ import annotations

from typing import Any

from foreman.errors import ForemanError


def join_ray(address: str, cpus: int) -> Any:
    """The ``ray`` module, connected: ``address`` is what ``ray.init`` takes (``auto``, ``HOST:PORT``),
    or ``local`` for a Ray instance started here with ``cpus`` CPUs and no dashboard."""
    try:
        import ray
    except ImportError:
        raise ForemanError("--ray-address needs Ray: pip install 'foreman[ray]'") from None
    local = address == "local"
    try:
        ray.init(
            address=address,
            num_cpus=cpus if local else None,
            include_dashboard=False if local else None,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError) as error:
        raise ForemanError(f"cannot join the Ray cluster at {address}: {error}") from None
    return ray
