"""Compiled templates kept for the life of the process.

Jinja compiles each template once per application; compiling the pages takes tens of
milliseconds each. A process that builds the application more than once (the tests, an
`idp` command that builds it again) reuses what it compiled. Entries are keyed by the
template's name and a checksum of its source, so an edited template is compiled again.
"""

from __future__ import annotations

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class CompiledTemplates(BytecodeCache):
    """Jinja bytecode kept in memory, shared by every application the process builds."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()
