# The C reader (normalizers/_marcread.c); its specification is the Python in iso2709 and marc.
from collections.abc import Callable, Sequence
from typing import Any

def frame(data: bytes | bytearray | memoryview, /) -> tuple[bytes, list[str], bytes] | None: ...
def fields(
    field_type: type[tuple[Any, ...]],
    nfc: Callable[[str], str],
    code: Callable[[str], str],
    tags: Sequence[str],
    text: str,
    /,
) -> tuple[tuple[tuple[str, str], ...], tuple[Any, ...], str] | None: ...

NFC_STABLE: tuple[tuple[int, int], ...]
