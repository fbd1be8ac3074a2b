"""One way to pick a component by name: corpus readers, towers, losses, describers and pretrained models.

A :class:`Registry` maps names to *factories* (a class or any callable that builds the
component). Each kind of component has one registry, created next to the components::

    READERS = Registry("readers", what="corpus reader")

    READERS.register("jamendo", "songalign.corpus.readers.jamendo:read_jamendo")  # lazy string

    @READERS.register("mine")                                                     # decorator
    def read_mine(src, report, **options): ...

    READERS.register("other", read_other)                                         # a callable

    READERS.names()                     # ['jamendo', 'mine', 'other', ...]
    READERS["jamendo"]                  # the function (its module imported on first use)
    READERS.build("jamendo", {"src": src, "report": report}, languages=["english"])
                                        # factory(src=..., report=..., languages=...): an option it
                                        # does not take is named in one sentence listing the others

A registry is a read-only :class:`~collections.abc.Mapping` of name → factory: ``registry[name]``
fails for an unknown name with one sentence listing the choices (:class:`UnknownNameError`, also
a ``KeyError``, so ``registry.get(name, default)``, ``in`` and iteration behave as for any mapping).

A ``"module:attribute"`` string is imported only when the entry is first looked up, so that
``import songalign.cli`` stays free of torch and friends. An entry may carry metadata (e.g. a
describer's pydantic ``options`` model: :meth:`Registry.build` then validates the keyword
options against it and hands the factory the validated model; a pretrained model's ``card``
function), given as the object or its ``"module:attribute"`` (:meth:`Entry.metadata_value`).

Other packages add components without touching songalign, through Python entry points in the
group ``songalign.<kind>``. The groups, and where each registry lives:

=================================  ======================================  ==============================
entry-point group                  registry                                used by
=================================  ======================================  ==============================
``songalign.readers``              ``songalign.corpus.readers.READERS``    ``corpus prepare KIND``
``songalign.audio_towers``         ``songalign.towers.AUDIO_TOWERS``       ``model.audio_tower.name``
``songalign.text_towers``          ``songalign.towers.TEXT_TOWERS``        ``model.text_tower.name``
``songalign.losses``               ``songalign.align.losses.LOSSES``       ``loss.name`` (recipes)
``songalign.describers``           ``songalign.describe.DESCRIBERS``       ``describe --backend``
``songalign.pretrained_models``    ``songalign.align.PRETRAINED``          ``models build NAME``
``songalign.transcribe_networks``  ``songalign.transcribe.NETWORKS``       ``model.network.*_network``
``songalign.transcribe_backends``  ``songalign.transcribe.BACKENDS``       ``transcribe … --backend``
``songalign.aligners``             ``songalign.corpus.aligners.ALIGNERS``  folder reader ``aligner_kind``
``songalign.separators``           ``songalign.separate.SEPARATORS``       a transcriber's vocal channel
=================================  ======================================  ==============================

In the plugin's ``pyproject.toml``::

    [project.entry-points."songalign.readers"]
    mine = "mypackage.reader:read_mine"

Entry points are read once per process, on the first lookup. A built-in name wins over an entry point of
the same name (installing a package never changes what ``jamendo`` means); the clash is logged.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import import_module
from typing import Any, Generic, TypeVar, overload

from songalign.errors import SongalignError, UnknownNameError, first_validation_problem

log = logging.getLogger("songalign")

F = TypeVar("F", bound=Callable[..., Any])

ENTRY_POINT_PREFIX = "songalign."
"""Entry-point groups are ``songalign.<kind>``."""


@dataclass
class Entry:
    """One registered component: its name, its factory (or where to import it from) and metadata."""

    name: str
    target: str | Callable[..., Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    origin: str = "songalign"
    """Who registered it: ``"songalign"`` (code that calls :meth:`Registry.register`) or ``"entry point of <package>"``."""

    def load(self, what: str) -> Callable[..., Any]:
        """The factory, importing a ``"module:attribute"`` target on first use (then kept)."""
        if callable(self.target):
            return self.target
        factory = self._import(self.target, what)
        if not callable(factory):
            raise SongalignError(
                f"{what} {self.name!r} ({self.origin}) points at {self.target!r}, which is not callable; "
                "register a class or function"
            )
        self.target = factory
        return factory

    def metadata_value(self, key: str, what: str) -> Any:
        """The metadata ``key`` (None when absent); a ``"module:attribute"`` string is imported on first use, then kept."""
        value = self.metadata.get(key)
        if isinstance(value, str):
            value = self.metadata[key] = self._import(value, what)
        return value

    def options_model(self, what: str) -> Any:
        """The pydantic model of the entry's ``options`` metadata, or None."""
        return self.metadata_value("options", what)

    def _import(self, target: str, what: str) -> Any:
        module_name, _, attribute = target.partition(":")
        try:
            module = import_module(module_name)
            return getattr(module, attribute) if attribute else module
        except (ImportError, AttributeError) as error:
            raise SongalignError(
                f"{what} {self.name!r} ({self.origin}) points at {target!r}, which cannot be imported "
                f"({error}); install what it needs or fix the registration"
            ) from error


class Registry(Mapping[str, F], Generic[F]):
    """Components of one ``kind``, by name; a read-only mapping name → factory.

    ``kind`` names the entry-point group (``songalign.<kind>``); ``what`` is the singular noun
    used in messages ("corpus reader", "audio tower"). ``registry[name]`` is the factory (imported
    on first use); an unknown name raises :class:`~songalign.errors.UnknownNameError`.
    """

    def __init__(self, kind: str, *, what: str | None = None, entry_point_group: str | None = None):
        self.kind = kind
        self.what = what or kind
        self.entry_point_group = entry_point_group or f"{ENTRY_POINT_PREFIX}{kind}"
        self._entries: dict[str, Entry] = {}
        self._entry_points_loaded = False

    # -- registering --------------------------------------------------------------------------------

    @overload
    def register(self, name: str, factory: None = None, **metadata: Any) -> Callable[[F], F]: ...

    @overload
    def register(self, name: str, factory: str | F, **metadata: Any) -> str | F: ...

    def register(self, name: str, factory: str | F | None = None, **metadata: Any) -> Any:
        """Register ``factory`` under ``name``; without ``factory``, a decorator that does so.

        ``factory`` is a class or callable, or a lazy ``"module:attribute"`` string. Registering
        a name again replaces the entry (the latest registration wins). ``metadata`` (e.g.
        ``options=SomeModel``) is kept with the entry; see :meth:`entry`.
        """
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.what} needs a non-empty string name; got {name!r}")
        if factory is None:

            def decorator(function: F) -> F:
                self._add(Entry(name, function, dict(metadata)))
                return function

            return decorator
        if not callable(factory) and not (isinstance(factory, str) and factory.strip()):
            raise ValueError(f"{self.what} {name!r}: register a callable or a 'module:attribute' string")
        self._add(Entry(name, factory, dict(metadata)))
        return factory

    def unregister(self, name: str) -> None:
        """Remove ``name`` (no error when it is absent); for tests and plugins that replace one."""
        self._entries.pop(name, None)

    def _add(self, entry: Entry) -> None:
        self._entries[entry.name] = entry

    # -- looking up ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every registered name, sorted (entry points included)."""
        self._load_entry_points()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` of ``name``; an unknown name fails with one sentence listing the choices."""
        self._load_entry_points()
        if name not in self._entries:
            choices = ", ".join(sorted(self._entries)) or "(none registered)"
            raise UnknownNameError(f"unknown {self.what} {name!r}; choose one of: {choices}")
        return self._entries[name]

    def choices(self, enum_name: str) -> type[StrEnum]:
        """The names as a :class:`~enum.StrEnum` called ``enum_name``: a CLI choice type (typer shows and checks it)."""
        return StrEnum(enum_name, {name: name for name in self.names()})

    def build(self, name: str, given: Mapping[str, Any] | None = None, /, **options: Any) -> Any:
        """``factory(**given, **options)`` for ``name``; options it does not take fail in one sentence naming them.

        ``options`` are what a user chose (a recipe's fields, ``--option KEY=VALUE``); ``given`` are
        keyword arguments the calling code always passes (a reader's ``src`` and ``report``): they
        reach the factory but are never offered as options in an error. When the entry carries
        ``options`` metadata (a pydantic model class, or its ``"module:Class"``) the options are
        validated against it and the factory receives the validated model (and ``given``) instead.
        """
        given = dict(given or {})
        clashing = [option for option in options if option in given]
        if clashing:
            raise SongalignError(
                f"{self.what} {name!r}: {', '.join(map(repr, clashing))} is set by songalign, not an option; remove it"
            )
        entry = self.entry(name)
        factory = entry.load(self.what)
        options_model = entry.options_model(self.what)
        if options_model is not None:
            return factory(self._validated(name, options_model, options), **given)
        self._check_options(name, factory, given, options)
        return factory(**given, **options)

    def _validated(self, name: str, options_model: Any, options: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        try:
            return options_model.model_validate(options)
        except ValidationError as error:
            where, problem = first_validation_problem(error)
            raise SongalignError(
                f"{self.what} {name!r}: option {where or 'options'!r} is invalid ({problem})"
            ) from None

    def _check_options(
        self, name: str, factory: Callable[..., Any], given: dict[str, Any], options: dict[str, Any]
    ) -> None:
        # Binding against the signature (rather than catching a TypeError from the call) names the
        # option exactly and never mistakes a TypeError raised inside the factory for a bad option.
        try:
            signature = inspect.signature(factory)
        except (TypeError, ValueError):  # some builtins have no signature: let the call decide
            return
        parameters = signature.parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return
        accepted = [
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]
        unpassable = [argument for argument in given if argument not in accepted]
        if unpassable:
            raise SongalignError(
                f"{self.what} {name!r} does not take {', '.join(map(repr, unpassable))}, which songalign passes "
                f"to every {self.what}; add that parameter to its factory"
            )
        unknown = [option for option in options if option not in accepted]
        if unknown:
            settable = [p for p in accepted if p not in given]  # what the caller passes is no choice of the user's
            takes = f"it takes: {', '.join(settable)}" if settable else "it takes no options"
            raise SongalignError(
                f"{self.what} {name!r} does not take the option {', '.join(map(repr, unknown))} ({takes}); "
                "fix or remove it"
            )
        missing = [  # build passes keywords only, so any parameter without a default must be among them
            p.name
            for p in parameters
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.name not in options
            and p.name not in given
        ]
        if missing:
            raise SongalignError(f"{self.what} {name!r} needs the option {', '.join(map(repr, missing))}; add it")

    # -- Mapping interface: ``name in registry``, ``registry[name]``, iteration over names ----------

    def __getitem__(self, name: str) -> F:
        """The factory registered as ``name`` (imported on first use); an unknown name: :class:`UnknownNameError`."""
        return self.entry(name).load(self.what)  # type: ignore[return-value]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={sorted(self._entries)})"

    # A registry is one object, not a value: comparing two by content (Mapping's ==) would import
    # every lazy entry of both, so they compare and hash by identity.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # -- entry points -------------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for point in _songalign_entry_points().get(self.entry_point_group, []):
            distribution = getattr(point.dist, "name", None) or "unknown package"
            if point.name in self._entries:
                log.warning(
                    "%s %r from package %s is ignored: songalign already has one by that name",
                    self.what,
                    point.name,
                    distribution,
                )
                continue
            self._add(Entry(point.name, point.value, {}, origin=f"entry point of {distribution}"))


def parse_options(items: Iterable[str], flag: str = "--option") -> dict[str, Any]:
    """Command-line ``KEY=VALUE`` strings → keyword options for :meth:`Registry.build`.

    Values are read as YAML (``3`` → 3, ``true`` → True, ``[a, b]`` → a list, other text a
    string); a ``-`` in a key becomes ``_`` (``audio-dir`` → ``audio_dir``). ``flag`` names the
    command-line option in the one-sentence error.
    """
    import yaml  # only commands that take such options pay for it

    options: dict[str, Any] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise SongalignError(f"{flag} {item!r} must look like KEY=VALUE, e.g. {flag} size=3")
        try:
            options[key.strip().replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise SongalignError(f"{flag} {item!r}: the value is not valid YAML ({error}); quote it") from error
    return options


@cache
def _songalign_entry_points() -> dict[str, list[Any]]:
    """Every installed entry point in a ``songalign.*`` group, by group; read once per process.

    One scan of the installed packages serves every registry (the CLI lists two at start-up).
    """
    from importlib.metadata import entry_points

    installed = entry_points()  # one scan; select() and groups work on Python 3.11 and 3.12+ alike
    return {
        group: list(installed.select(group=group)) for group in installed.groups if group.startswith(ENTRY_POINT_PREFIX)
    }
