from typing import Any

def fill(obj: object, descriptors: tuple[Any, ...], values: tuple[Any, ...], /) -> None: ...

class Maker:
    def __init__(
        self,
        cls: type,
        descriptors: tuple[Any, ...],
        names: tuple[str, ...],
        defaults: tuple[Any, ...],
        missing: object,
        /,
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
