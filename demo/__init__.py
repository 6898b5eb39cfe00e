"""The synthetic Renhe-like demo town (being written): `load()` generates and loads it."""


def load(scale: float = 1.0, seed: int = 20261124, url: str | None = None, if_empty: bool = False,
         progress: bool = True) -> dict:
    raise NotImplementedError("the demo town generator is not written yet")
