"""The base every component shares: typed params, a name, a version, requirements."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Typed parameters of a component.  Unknown keys are rejected (``extra="forbid"``).

    Subclass it inside a component::

        class Params(xaibench.components.Params):
            n_steps: int = 10
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class Components(Protocol):
    """Where a component finds the other components it uses by name (the session's catalog)."""

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Component: ...

    def names(self, kind: str) -> list[str]: ...


class Component:
    """A named, versioned, parametrised building block registered by a plugin.

    Class attributes a component sets:

    - ``name``: the name used in ``registry.yaml`` (``component: <name>``).
    - ``version``: bump it whenever outputs change for the same params; it is
      part of every cache key, so a bump recomputes exactly this component's stages.
    - ``Params``: a :class:`Params` subclass.
    - ``requires``: capabilities (:mod:`xaibench.capabilities` constants such as
      ``MASK`` or ``AUX``) that the dataset or the model must provide, matched against
      :attr:`DatasetInfo.provides` and :attr:`ModelInfo.provides`.  A combination that
      lacks one is skipped with the reason recorded.

    A component created by the catalog (every component of a grid) has ``catalog`` set to
    it, to create the components it uses by name (harmonization's kNN backend).
    """

    kind: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    Params: ClassVar[type[Params]] = Params
    requires: ClassVar[frozenset[str]] = frozenset()
    catalog: Components | None = None

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def fingerprint(self) -> str | None:
        """Identity of what the component reads beyond its params (a checkpoint file's digest,
        a dataset directory's listing), or ``None``.  It joins every cache key the component
        enters, so replacing a file recomputes what depends on it.  Keep it cheap."""
        return None

    @classmethod
    def describe(cls) -> str:
        """First line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"
