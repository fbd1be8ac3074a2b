"""One model-folder format for every model songalign trains or ports.

A model folder holds::

    model.safetensors   the model's own weights (frozen pretrained parts are referenced, not copied)
    config.json         the model's config (enough to rebuild it, including what it references)
    README.md           a human-readable model card
    card.json           the same card as data: what the model is, what it was trained on and how

and may hold sub-folders a model needs (the captioner's ``bart/`` and ``tokenizer/``). The card
dict has the keys ``name``, ``kind`` (``"align"``, ``"caption"``, …), ``data``, ``recipe``,
``evaluation`` and ``provenance`` (a free dict, to which :func:`save_model_folder` adds the
songalign version that wrote the folder). ``data`` holds

- ``corpus``: the corpus the model was trained on;
- ``songs``: ``{"train": [song ids], "val": [...], "test": [...]}``, the song ids of each split of
  that corpus (:func:`songs_by_split`), which a captioner's splits follow;
- ``trained_songs``: the song ids whose audio the weights were actually fitted on — the training
  set's songs, whatever split a recipe trained on (``data.train_split: all`` includes the test
  songs), together with those of the model it was fine-tuned from (:func:`lineage_songs`); ``null``
  when unknown (a checkpoint trained outside songalign, such as CLAP-pre).

A model fine-tuned from another (``init_from``) records its parent's card, the parent's own
lineage included, under ``provenance.init_from`` (:func:`parent_card`); a captioner records the
card of the alignment model its frozen music tower comes from under ``provenance.music_tower``
(the tower's weights saw that model's songs, so the captioner's features did too). A card's
*lineage* is the card and every model it records so (:data:`LINEAGE_PARENTS`), recursively.
:func:`trained_songs` reads what a card says the weights have seen over its lineage;
:func:`unknown_training` names the models of its lineage whose training songs are unknown.

Every model songalign saves derives from :class:`PretrainedModel` (as Hugging Face's models derive
from ``PreTrainedModel``): the alignment model (:class:`songalign.align.model.AlignModel`), the
captioner (:class:`songalign.caption.model.CaptionModel`) and the transcriber
(:class:`songalign.transcribe.model.Transcriber`) each name their folder ``kind``, config class and
card title, and implement the few hooks their folder needs; ``from_pretrained`` and
``save_pretrained`` are the base's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, TypeVar

import torch
from pydantic import BaseModel, ValidationError
from safetensors.torch import load_file, save_file
from torch import nn

from songalign import __version__
from songalign.errors import SongalignError, first_validation_problem

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
CARD_JSON = "card.json"

_CARD_SECTIONS = (
    ("Training data", "data"),
    ("Recipe", "recipe"),
    ("Evaluation", "evaluation"),
    ("Provenance", "provenance"),
)


def module_digest(module: nn.Module) -> str:
    """sha1 (16 hex digits) of a module's parameters and buffers, by name in sorted order: equal for equal
    weights, whatever their memory layout, and different as soon as one value differs."""
    import hashlib

    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """Where converted weights are cached: ``$SONGALIGN_CACHE`` or ``$XDG_CACHE_HOME/songalign`` (``~/.cache/songalign``)."""
    if os.environ.get("SONGALIGN_CACHE"):
        return Path(os.environ["SONGALIGN_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "songalign"


def files_digest(paths: Iterable[str | Path]) -> str:
    """16 hex digits of SHA-256 over the SHA-256 of each file in ``paths``, in order: a ported checkpoint's
    identity (its cache key; what model cards record)."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def versioned_digest(digest: str, processing: str) -> str:
    """16 hex digits of SHA-256 over a weights ``digest`` (:func:`files_digest`) and ``processing``, the name
    and version of the code that makes outputs from those weights (``"spleeter 2stems port 1"``): a port's
    identity for caches of its outputs, which changes when either the weights or the processing do."""
    import hashlib

    return hashlib.sha256(f"{digest}|{processing}".encode()).hexdigest()[:16]


def cached_state(
    path: Path, convert: Callable[[], dict[str, torch.Tensor]], *, source: str, digest: str
) -> dict[str, torch.Tensor]:
    """Converted weights cached as safetensors at ``path`` (under :func:`cache_root`, named by the source's
    :func:`files_digest`): read when there, else ``convert()`` and written through a temporary file renamed
    into place, so a reader never sees half a file and two writers never share one. A damaged entry is
    converted again and replaced; a read-only cache only costs converting again next time."""
    import tempfile

    from safetensors import SafetensorError

    if path.is_file():
        try:
            return load_file(path)
        except (SafetensorError, OSError):
            pass
    state = {name: tensor.contiguous() for name, tensor in convert().items()}
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as handle:
            partial = Path(handle.name)
        save_file(state, str(partial), metadata={"source": source, "checkpoint_sha256": digest})
        partial.replace(path)
    except OSError:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return state


def save_model_folder(
    directory: str | Path,
    state: Mapping[str, torch.Tensor],
    config: Mapping[str, Any] | BaseModel,
    card: Mapping[str, Any],
    *,
    title: str,
    architecture: Sequence[str],
) -> Path:
    """Write ``state`` (safetensors), ``config`` (JSON) and the model card (Markdown + JSON) into ``directory``.

    ``title`` heads the Markdown card ("songalign model", "songalign captioner"), followed by the
    card's ``name``; ``architecture`` is a list of Markdown bullet texts describing the parts.
    Tensors are detached, moved to the CPU and made contiguous before saving. Returns the folder.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(directory / WEIGHTS_FILE))
    config_json = (
        config.model_dump_json(indent=2) if isinstance(config, BaseModel) else json.dumps(dict(config), indent=2)
    )
    (directory / CONFIG_FILE).write_text(config_json + "\n", encoding="utf-8")
    card = dict(card)
    card["provenance"] = {"songalign_version": __version__, **dict(card.get("provenance") or {})}
    (directory / CARD_JSON).write_text(json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8")
    (directory / CARD_FILE).write_text(render_card(card, title=title, architecture=architecture), encoding="utf-8")
    return directory


def render_card(card: Mapping[str, Any], *, title: str, architecture: Sequence[str]) -> str:
    """The Markdown model card: title and name, kind, architecture bullets, then data, recipe, figures, provenance."""
    lines = [f"# {title}: {card.get('name', 'unnamed')}", ""]
    if card.get("kind"):
        lines += [f"Kind: `{card['kind']}`. Written by songalign.", ""]
    lines += ["## Architecture", *(f"- {item}" for item in architecture)]
    for heading, key in _CARD_SECTIONS:
        if card.get(key):
            lines += ["", f"## {heading}", "", "```json", json.dumps(card[key], indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"


TRAIN_HINT = "train one with `songalign train`"
"""How a model folder's error says to make one, unless the model says otherwise."""


def _article(noun: str) -> str:
    """``"an"`` before a vowel ("an alignment model"), ``"a"`` otherwise."""
    return "an" if noun[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def require_model_folder(
    directory: str | Path, what: str = "songalign model", needs: Iterable[str] = (), hint: str | None = None
) -> Path:
    """``directory`` as a Path when it holds a saved model folder; one clear error otherwise.

    A folder needs ``config.json`` and ``model.safetensors``, plus the extra entries ``needs``
    (files or sub-folders, e.g. ``("bart", "tokenizer")``). ``hint`` says how to make one.
    """
    directory = Path(directory)
    required = [CONFIG_FILE, WEIGHTS_FILE, *needs]
    if not all((directory / name).exists() for name in required):
        listed = ", ".join(required[:-1]) + f" and {required[-1]}"
        raise SongalignError(
            f"{directory} is not {_article(what)} {what} folder (it needs {listed}); "
            f"{hint or TRAIN_HINT} or give the right path"
        )
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder."""
    path = Path(directory) / CONFIG_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SongalignError(f"{path} does not exist; give a model folder written by songalign") from error
    except json.JSONDecodeError as error:
        raise SongalignError(f"{path} is not valid JSON ({error}); rewrite the folder with save_pretrained") from error


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def _saved_config_problem(error: ValidationError) -> str:
    """The first problem of a saved config's pydantic ``error``: ``"field 'a.b': message"``.

    The message is pydantic's own (an unknown field, a value out of range); a songalign validator's
    message (``value_error``) is left out, as it tells a recipe's author what to write instead,
    which is no fix for a saved folder.
    """
    field, message = first_validation_problem(error)
    where = f"field {field!r}" if field else "the config as a whole"
    return f"{where} is refused" if error.errors()[0]["type"] == "value_error" else f"{where}: {message}"


def read_saved_config(directory: str | Path, kind: type[ConfigT], remedy: str) -> ConfigT:
    """The ``config.json`` of a model folder validated as ``kind``; one sentence when this version cannot read it.

    A saved config fails when another version of songalign wrote it (or it was edited), and then
    its weights may not fit this version either, so the one fix offered is ``remedy`` (how to make
    the folder again, e.g. "build or train the model again"), never an edit of the file.
    """
    path = Path(directory) / CONFIG_FILE
    try:
        return kind.model_validate(read_config(directory))
    except ValidationError as error:
        raise SongalignError(
            f"{path} does not fit this version of songalign ({_saved_config_problem(error)}), so another version "
            f"wrote it or it was edited; {remedy}"
        ) from None


def read_weights(directory: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a model folder's ``model.safetensors`` (on the CPU)."""
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise SongalignError(f"{path} does not exist; give a model folder written by songalign")
    return load_file(str(path))


def read_card(directory: str | Path) -> dict[str, Any]:
    """The model card (``card.json``) of a model folder as a dict; ``{}`` when the folder has none."""
    path = Path(directory) / CARD_JSON
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SongalignError(f"{path} is not valid JSON ({error}); delete it or rewrite the folder") from error


CARD_SPLITS = ("train", "val", "test")


class _SplitItem(Protocol):
    song_id: str
    split: str


def songs_by_split(segments: Iterable[_SplitItem]) -> dict[str, list[str]]:
    """``{split: sorted song ids}`` of a corpus's segments, for a card's ``data.songs``.

    ``train``, ``val`` and ``test`` are always present (empty when the corpus has no such split);
    any other split name a corpus uses is kept too.
    """
    songs: dict[str, set[str]] = {split: set() for split in CARD_SPLITS}
    for segment in segments:
        songs.setdefault(segment.split, set()).add(segment.song_id)
    return {split: sorted(ids) for split, ids in songs.items()}


LINEAGE_KEYS = ("name", "kind", "data", "provenance")
"""What a card keeps of its parent's card (``provenance.init_from``): enough to follow the lineage."""


def parent_card(directory: str | Path) -> dict[str, Any]:
    """What a card records about a model folder another model's weights descend from (:data:`LINEAGE_PARENTS`).

    Its folder, name, kind, ``data`` (corpus, songs per split, trained songs) and ``provenance``
    (its own ``init_from`` and ``music_tower``, and so on up the lineage), so a chain a → b → c
    keeps what a saw.
    """
    card = read_card(directory)
    return {"folder": str(directory), **{key: card[key] for key in LINEAGE_KEYS if key in card}}


LINEAGE_PARENTS = ("init_from", "music_tower")
"""The ``provenance`` keys under which a card records a model its weights descend from (:func:`parent_card`):
the model it was fine-tuned from, and the alignment model a captioner's frozen music tower comes from."""


def lineage_provenance(**parents: str | Path | None) -> dict[str, Any]:
    """A new card's ``provenance`` entries for the models its weights descend from, by their
    :data:`LINEAGE_PARENTS` key: ``lineage_provenance(init_from=folder, music_tower=folder)`` →
    ``{"init_from": parent_card(...), "music_tower": parent_card(...)}``; None folders are left out."""
    unknown = sorted(set(parents) - set(LINEAGE_PARENTS))
    if unknown:
        raise ValueError(f"not a lineage key: {', '.join(unknown)} (use {', '.join(LINEAGE_PARENTS)})")
    return {key: parent_card(folder) for key, folder in parents.items() if folder is not None}


def _lineage(card: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """``card`` (even an empty one: no card), then the lineage of each model it records under
    :data:`LINEAGE_PARENTS` (its ``init_from`` parent's, that parent's own parents, …, then its music tower's)."""
    yield card
    provenance = card.get("provenance") or {}
    for key in LINEAGE_PARENTS:
        if provenance.get(key):
            yield from _lineage(provenance[key])


def _recorded_songs(card: Mapping[str, Any]) -> list[str] | None:
    """One card's own ``data.trained_songs`` (None when it records them as unknown or not at all)."""
    songs = (card.get("data") or {}).get("trained_songs")
    return [str(song) for song in songs] if isinstance(songs, list) else None


def trained_songs(card: Mapping[str, Any]) -> set[str] | None:
    """Song ids whose audio a model's weights were fitted on, from its card; None when the card cannot say.

    The union of ``data.trained_songs`` over the card and, through ``provenance.init_from``, every
    model it was fine-tuned from. None means *unknown*, not "no song": no model of the lineage
    records its songs (a card from before ``data.trained_songs``, no card at all (``{}``), or a
    checkpoint trained outside songalign such as CLAP-pre). A set may still leave out songs of a
    lineage member trained outside songalign; :func:`unknown_training` names those.
    """
    recorded = [songs for songs in map(_recorded_songs, _lineage(card)) if songs is not None]
    return set().union(*recorded) if recorded else None


def unknown_training(card: Mapping[str, Any]) -> list[str]:
    """Models of the card's lineage (itself first) whose training songs are unknown, by folder or name.

    Empty when every model of the lineage records its ``data.trained_songs``.
    """
    return [
        str(member.get("folder") or member.get("name") or "the model")
        for member in _lineage(card)
        if _recorded_songs(member) is None
    ]


def lineage_songs(fitted: Iterable[str], init_from: str | Path | None) -> list[str]:
    """A new card's ``data.trained_songs``: the songs this run fitted on ∪ those its ``init_from`` parent's
    card says its weights saw (nothing added for a parent whose songs are unknown); sorted."""
    inherited = trained_songs(read_card(init_from)) if init_from is not None else None
    return sorted(set(fitted) | (inherited or set()))


def load_weights_into(module: nn.Module, directory: str | Path, *, referenced: Sequence[str] = ()) -> nn.Module:
    """Load a folder's weights into ``module``; one clear error when they do not match its parameters.

    ``referenced`` are state-dict prefixes (``"text_tower."``, ``"bart."``) of parts that are not
    stored in the folder because the config references them (frozen pretrained towers, BART's
    own folder); their keys may be missing. Returns ``module``.
    """
    directory = Path(directory)
    weights, own = read_weights(directory), module.state_dict()
    resized = [k for k, v in weights.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in weights and not k.startswith(tuple(referenced))]
    unexpected = [k for k in weights if k not in own]
    if missing or unexpected or resized:
        problems = [
            f"{label} {keys[:3]}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", resized))
            if keys
        ]
        raise SongalignError(
            f"{directory / WEIGHTS_FILE} does not match {directory / CONFIG_FILE} ({', '.join(problems)}); "
            "it was written by another version or edited, so save the model again"
        )
    module.load_state_dict(weights, strict=False)
    return module


class PretrainedModel(nn.Module):
    """A model saved as, and loaded from, one model folder (this module's format).

    A subclass names its folder with class attributes and implements the hooks its folder needs:

    - ``folder_kind`` (the card's ``kind``: ``"align"``, ``"caption"``, ``"transcribe"``),
      ``config_class`` (the pydantic model of ``config.json``, held as ``self.config``) and
      ``card_title`` (the Markdown card's title) — required;
    - ``folder_name`` (how an error names such a folder: "captioner"), ``folder_needs`` (entries
      besides config and weights, such as ``("bart", "tokenizer")``), ``folder_hint`` (how to make
      one) and ``config_remedy`` (the fix when this version cannot read its ``config.json``);
    - :meth:`_from_saved_config` builds the model from its folder's config (the options of
      :meth:`from_pretrained` go to it), :meth:`_stored_elsewhere` names the state-dict prefixes
      the weights file leaves out (frozen pretrained towers, BART's own folder),
      :meth:`_save_parts` writes the sub-folders ``folder_needs`` asks for, and
      :meth:`architecture` gives the card's architecture bullets.
    """

    folder_kind: ClassVar[str]
    config_class: ClassVar[type[BaseModel]]
    card_title: ClassVar[str]
    folder_name: ClassVar[str] = "songalign model"
    folder_needs: ClassVar[tuple[str, ...]] = ()
    folder_hint: ClassVar[str] = TRAIN_HINT
    config_remedy: ClassVar[str] = "build or train the model again"

    config: BaseModel

    # -- hooks ----------------------------------------------------------------------------------------
    @classmethod
    def _from_saved_config(cls, directory: Path, config: Any, **options: Any) -> Self:
        """The model that ``config`` (the folder's, validated) describes, before its weights are loaded.

        The default is ``cls(config)``; a subclass takes its :meth:`from_pretrained` options here.
        """
        if options:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no options; got {', '.join(options)}")
        return cls(config)

    def _stored_elsewhere(self, config: Any) -> tuple[str, ...]:
        """State-dict prefixes (``"bart."``) of parts a folder saved under ``config`` does not hold in its
        weights file, because the config references them; none by default."""
        return ()

    def _save_parts(self, directory: Path) -> None:
        """Write the sub-folders of :attr:`folder_needs` into ``directory``; nothing by default."""

    def architecture(self) -> list[str]:
        """The model card's architecture bullets (Markdown)."""
        return [type(self).__name__]

    # -- the folder -----------------------------------------------------------------------------------
    @classmethod
    def require_folder(cls, directory: str | Path) -> Path:
        """``directory`` as a Path when it holds a model folder of this kind; one clear error otherwise.

        A folder whose card names no kind (one written before cards did, or without a card) is taken.
        """
        directory = require_model_folder(directory, cls.folder_name, needs=cls.folder_needs, hint=cls.folder_hint)
        kind = read_card(directory).get("kind")
        if kind and kind != cls.folder_kind:
            expected = f"{_article(cls.folder_name)} {cls.folder_name} ({cls.folder_kind!r})"
            raise SongalignError(
                f"{directory} holds {_article(kind)} {kind!r} model ({CARD_JSON} kind), not {expected}; "
                f"{cls.folder_hint} or give the right path"
            )
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, **options: Any) -> Self:
        """Load a folder written by :meth:`save_pretrained`: check it, read its config (one sentence when
        this version cannot), build the model (``options`` go to :meth:`_from_saved_config`) and load its
        weights (one sentence when they do not match the config)."""
        directory = cls.require_folder(directory)
        saved = read_saved_config(directory, cls.config_class, cls.config_remedy)
        model = cls._from_saved_config(directory, saved, **options)
        # what the folder left out follows the config it was saved under, not the one options made
        load_weights_into(model, directory, referenced=model._stored_elsewhere(saved))
        return model

    def save_pretrained(self, directory: str | Path, card: Mapping[str, Any] | None = None) -> Path:
        """Write the model folder (its sub-folders, weights, ``config.json``, model card) into ``directory``;
        returns it. ``card`` is this module's card dict (``kind`` defaults to the model's ``folder_kind``)."""
        directory = Path(directory)
        self._save_parts(directory)
        skipped = self._stored_elsewhere(self.config)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith(skipped)}
        return save_model_folder(
            directory,
            state,
            self.config,
            {"kind": self.folder_kind, **(card or {})},
            title=self.card_title,
            architecture=self.architecture(),
        )
