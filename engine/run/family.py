"""The interface every rule family implements, and the steps a family hands to the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from salesplay.engine.lang.playbook import Playbook
    from salesplay.engine.run.context import EvalContext
    from salesplay.engine.run.explain import Finding


class RuleFamily(Protocol):
    """One playbook section: its JSON Schema, its load-time checks, its SQL, its explanation."""

    section: str
    schema: ClassVar[dict[str, Any]]

    def check(self, playbook: Playbook) -> None:
        """Compile every expression and template against the names it may use.

        Raises PlaybookError located at the bad key."""

    def run(self, ctx: EvalContext) -> None:
        """Evaluate the section set-based inside ctx's transaction."""

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        """What each rule of the section says about one subject, with the values that decided it."""
