"""The top floor: the `govhub` command and the demo. Every room is below it; nothing imports it."""

__all__: list[str] = []
