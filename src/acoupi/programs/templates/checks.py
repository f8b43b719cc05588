"""Run a component's optional health check."""

__all__ = ["run_component_check"]


def run_component_check(component: object) -> None:
    """Call ``component.check()`` when the component defines one.

    Recorders, models and messengers may offer a ``check`` that raises
    ``HealthCheckError``; components without one are assumed healthy.
    """
    check = getattr(component, "check", None)
    if callable(check):
        check()
