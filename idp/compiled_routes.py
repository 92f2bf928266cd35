"""URL builders compiled once per process.

Werkzeug compiles two small functions per route (the URL builders behind `url_for`) when
the route is added, generating and compiling Python code each time: for this provider's
≈ 125 routes that is most of the time it takes to build the application. A process that
builds the application more than once (the tests, an `idp` command that builds it again)
reuses them. A builder depends only on the rule's parsed parts, its defaults and its
converters' types, which make the key; it reaches the rule's converters through the rule
it is bound to, so sharing the function between applications shares no state.
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.routing import Rule

_builders: dict[tuple, Callable] = {}


class CompiledRule(Rule):
    """A route whose URL builders come from the process-wide cache when it has them."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable:
        key = (self.rule, tuple(self._trace), append_unknown,
               repr(sorted((self.defaults or {}).items())),
               tuple((name, type(converter)) for name, converter in self._converters.items()))
        builder = _builders.get(key)
        if builder is None:
            builder = _builders[key] = super()._compile_builder(append_unknown)
        return builder
