"""Hear a song once: load a transcriber for what the caller needs, choose the vocal channel, emissions, timing.

Every place that runs a trained transcriber on a song goes through here — ``transcribe run``,
``transcribe align``, ``rank-lyrics``, ``transcribe evaluate`` and ``transcribe cleanse`` (through
:func:`song_audio`), training's features, and the folder reader's untimed ``.txt`` lyrics (through
the ``ctc`` entry of :data:`songalign.corpus.aligners.ALIGNERS`, :class:`CtcLyricsAligner`).

**Loading** (:func:`check_transcriber`, :func:`load_transcriber`): a folder is refused in one
sentence when the model cannot serve what the caller needs. An ``oracle`` transcriber reads the
annotated notes of what it hears and cannot run on plain audio; a ``pitch`` one writes no lyrics;
a ``baseline`` one has no pitch network and gives no notes.

**The vocal channel** (:class:`VocalChannel`): the transcriber hears two channels, the mix and
the singing voice. Its source is one of

- ``"mix"``: a copy of the mix;
- ``"stem"``: the song's own vocal stem (``Song.extra["vocals_path"]``, from ``corpus synth --stems``);
  plain audio has none, so on a user's file a ``stem`` model hears a copy of the mix, and says so;
- ``NAME:MODEL`` (or ``NAME``): the separator registered as ``NAME`` in :data:`songalign.separate.SEPARATORS`,
  built on ``MODEL`` (e.g. ``open-unmix:models/umx``), separates the voice from the mix;
- a folder: an open-unmix vocals model, the same as ``open-unmix:FOLDER`` (:func:`separate_vocals`);
- a file (one audio file only): that file's audio is the vocal stem.

By default a model hears what it was trained with (its ``config.vocals``); a caller's option replaces it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from songalign.audio.io import load_audio
from songalign.corpus.aligners import AlignedLyrics
from songalign.corpus.records import Song
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate import SEPARATORS, Separator
from songalign.transcribe.data import VocalSource
from songalign.transcribe.symbols import SAMPLE_RATE

if TYPE_CHECKING:
    from songalign.transcribe.model import Emissions, Transcriber, TranscriberConfig

Need = Literal["lyrics", "notes"]
"""What a caller needs from a transcriber: the lyrics network (text, alignment) or the pitch network (notes)."""

MIX_COPY = "mix copy"
"""What :attr:`Heard.vocals` says when the vocal channel was a copy of the mix."""

# -- loading --------------------------------------------------------------------------------------------


def refusal(config: TranscriberConfig, needs: Need | None, where: str, otherwise: str = "") -> str | None:
    """Why the transcriber described by ``config`` cannot serve ``needs`` on plain audio (one sentence
    starting with ``where`` and ending with ``otherwise``, another way out), or None when it can."""
    mode, serving = config.mode, "multitask or pitch" if needs == "notes" else "multitask or baseline"
    if mode == "oracle":
        why = "which reads the annotated notes of what it hears and so cannot run on plain audio"
    elif needs == "lyrics" and not config.hears_lyrics:
        why = "which writes no lyrics"
    elif needs == "notes" and not config.hears_pitch:
        why = "without a pitch network, so it gives no notes"
    else:
        return None
    return f"{where} is a transcriber of mode '{mode}', {why}; give one trained with mode {serving}{otherwise}"


def check_transcriber(folder: str | Path, *, needs: Need | None = None, where: str | None = None) -> TranscriberConfig:
    """The saved config of the transcriber in ``folder``, checked without loading its weights.

    One :class:`SongalignError` starting with ``where`` (default: the folder) when the folder is not a
    transcriber's, its config no longer fits, it cannot serve ``needs``, or its own vocal channel is a
    separator that is not there.
    """
    from songalign.checkpoint import read_saved_config
    from songalign.transcribe.model import Transcriber

    folder = Path(folder).expanduser()
    try:
        Transcriber.require_folder(folder)
        config = read_saved_config(folder, Transcriber.config_class, Transcriber.config_remedy)
    except SongalignError as error:
        if where is None:
            raise
        message, named = str(error), f"{folder} "
        # "FOLDER is not a transcriber folder …" reads as "option aligner=FOLDER is not …"; others are quoted
        message = message[len(named) :] if message.startswith(named) else f"cannot be used: {message}"
        raise SongalignError(f"{where} {message}") from None
    where = where or str(folder)
    problem = refusal(config, needs, where)
    if problem:
        raise SongalignError(problem)
    return config


def load_transcriber(
    folder: str | Path, *, needs: Need | None = None, where: str | None = None, otherwise: str = ""
) -> Transcriber:
    """The transcriber in ``folder``, refused in one sentence (see :func:`refusal`) when it cannot serve ``needs``."""
    from songalign.transcribe.model import Transcriber

    transcriber = Transcriber.from_pretrained(folder)
    problem = refusal(transcriber.config, needs, where or str(folder), otherwise)
    if problem:
        raise SongalignError(problem)
    return transcriber


# -- the vocal channel ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def separator(name: str, model: str) -> Separator:
    """The separator registered as ``name`` in :data:`songalign.separate.SEPARATORS`, built on ``model`` once
    per process (a song after the first reuses its weights)."""
    return SEPARATORS[name](model)


def registered_separator(source: str) -> tuple[str, str] | None:
    """``(name, model)`` when the vocal source ``source`` is ``NAME:MODEL`` or ``NAME`` with ``NAME`` registered
    in :data:`songalign.separate.SEPARATORS`; None for ``mix``, ``stem``, folders and files."""
    name, _, model = str(source).partition(":")
    return (name, model) if name in SEPARATORS else None


def separate_vocals(mix: np.ndarray, source: str | Path) -> np.ndarray:
    """Vocals separated from ``mix`` (16 kHz mono float array, ``(N,)``) by the separator ``source`` names: a
    registered ``NAME:MODEL``, else an open-unmix vocals model folder
    (:class:`songalign.separate.openunmix.OpenUnmixSeparator`); 16 kHz mono, ``(N,)``, as long as ``mix``."""
    chosen = separator(*(registered_separator(str(source)) or ("open-unmix", str(Path(source)))))
    vocals = chosen.separate(mix, SAMPLE_RATE).mono("vocals", SAMPLE_RATE)[: len(mix)]
    return np.pad(vocals, (0, len(mix) - len(vocals)))


def song_audio(song: Song, vocals: VocalSource) -> tuple[np.ndarray, np.ndarray | None]:
    """A corpus song's mix and its vocal channel (``None`` = a copy of the mix), 16 kHz mono ``(N,)`` arrays.

    ``vocals`` is ``"mix"``, ``"stem"`` (the song's ``extra["vocals_path"]``; one sentence when it
    has none), a registered separator ``NAME:MODEL`` or an open-unmix model folder (:func:`separate_vocals`).
    """
    mix, _ = load_audio(song.audio_path, SAMPLE_RATE)
    if vocals == "mix":
        return mix, None
    if vocals == "stem":
        path = song.extra.get("vocals_path")
        if not path:
            raise SongalignError(
                f"song {song.id} has no vocal stem; make the corpus with `corpus synth --stems`, "
                "or train with vocals=mix or a separator"
            )
        return mix, load_audio(path, SAMPLE_RATE)[0]
    return mix, separate_vocals(mix, vocals)


@dataclass(frozen=True)
class VocalChannel:
    """Where a transcriber's vocal channel comes from when it hears plain audio files.

    ``source`` is ``"mix"``, ``"stem"`` (heard as a mix copy: files have no stem), a separator
    folder or a vocal stem file; ``note``, when not empty, is the second half of a sentence whose
    subject is the model: why the channel is not what it was trained with (shown once by the caller).
    """

    source: VocalSource
    note: str = ""

    @classmethod
    def choose(cls, model: TranscriberConfig, option: str | None, *, where: str, files: int = 1) -> VocalChannel:
        """The channel for ``files`` plain audio files: ``option`` (a command's ``--vocals``) when given,
        else the model's own (``where`` names the model in messages). One sentence when it cannot be had."""
        source = option if option is not None else model.vocals
        named = registered_separator(source) if source not in ("mix", "stem") else None
        if named:
            separator(*named)  # builds it now: a separator that cannot be had says so before any song is heard
        elif source not in ("mix", "stem"):
            path = Path(source)
            if option is None and not path.is_dir():
                raise SongalignError(
                    f"{where} hears vocals separated by {path}, which is not a folder here; "
                    "put the open-unmix model there or give a transcriber trained with vocals=mix"
                )
            if not path.exists():
                raise BadInputError(
                    path,
                    "--vocals is neither 'mix', an open-unmix model folder nor a vocal stem file; "
                    "give --vocals mix or an existing separator folder",
                )
            if path.is_file() and files > 1:
                raise SongalignError(
                    f"--vocals {source} is one vocal stem but {files} audio files were given; "
                    "give one audio file with its stem, or a separator folder"
                )
            if path.is_dir() and importlib.util.find_spec("openunmix") is None:
                raise SongalignError(
                    f"{where} hears vocals separated by open-unmix, which is not installed; "
                    "pip install openunmix or give a transcriber trained with vocals=mix"
                    if option is None
                    else f"--vocals {path} is an open-unmix folder, but open-unmix is not installed; "
                    "pip install openunmix or give --vocals mix"
                )
        note = ""
        if option is None and source == "stem":
            note = "was trained on vocal stems, which plain audio lacks, so it hears a copy of the mix as its vocals"
        return cls(source, note)

    def vocals_of(self, mix: np.ndarray) -> tuple[np.ndarray | None, str]:
        """``(vocal channel (N,) or None for a mix copy, what it held)`` for a file's 16 kHz mono ``mix``."""
        if self.source in ("mix", "stem"):
            return None, MIX_COPY
        path = Path(self.source)
        if registered_separator(self.source) or path.is_dir():
            return separate_vocals(mix, self.source), f"separated by {path}"
        return load_audio(path, SAMPLE_RATE)[0], f"stem {path}"


@dataclass
class Heard:
    """One audio file as a transcriber heard it: its emissions, what the vocal channel held, its length (s)."""

    emissions: Emissions
    vocals: str
    duration: float


def hear(transcriber: Transcriber, audio_path: Path, channel: VocalChannel) -> Heard:
    """Run ``transcriber`` on the whole file at ``audio_path`` with the vocal ``channel``.

    Raises :class:`BadInputError` when the file does not decode or holds no audio.
    """
    mix, _ = load_audio(audio_path, SAMPLE_RATE)
    if mix.size == 0:
        raise BadInputError(audio_path, "holds no audio; give a file with sound in it")
    vocals, held = channel.vocals_of(mix)
    return Heard(transcriber.emissions(mix, vocals, SAMPLE_RATE), held, len(mix) / SAMPLE_RATE)


def align_heard(heard: Heard, lines: Sequence[str]) -> AlignedLyrics:
    """``lines`` timed in what was heard (CTC forced alignment; times clamped to the audio's length).

    Raises :class:`SongalignError` when the lyrics do not fit the audio or hold no letter it can align.
    """
    from songalign.transcribe.align import align_lyrics

    emissions = heard.emissions
    aligned = align_lyrics(emissions.log_probs, list(lines), emissions.emission_seconds, duration=heard.duration)
    return replace(aligned, vocals=heard.vocals)


class CtcLyricsAligner:
    """The ``ctc`` lyrics aligner: a trained transcriber's CTC emissions, forced-aligned to the lyrics.

    ``model`` is a transcriber folder that writes lyrics; it is checked at once (no weights read)
    and loaded, on the CPU, at the first song. ``option`` names the setting in messages (the folder
    reader's ``option aligner=...``). The vocal channel is the model's own (a mix copy for a model
    trained on stems, noted once in the report).
    """

    def __init__(self, model: str | Path, *, option: str = "aligner") -> None:
        self.folder = Path(str(model)).expanduser()
        self.where = f"option {option}={self.folder}"
        self.config = check_transcriber(self.folder, needs="lyrics", where=self.where)
        self.channel = VocalChannel.choose(self.config, None, where=self.where)
        self._transcriber: Transcriber | None = None

    def _loaded(self, report: SkipReport) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = load_transcriber(self.folder, needs="lyrics", where=self.where)
            if self.channel.note:
                report.note(
                    self.folder, f"{self.channel.note} and may align less well; train one with vocals=mix for your own songs"
                )
        return self._transcriber

    def align(self, audio_path: Path, lines: Sequence[str], report: SkipReport) -> AlignedLyrics:
        """``lines`` timed in the audio at ``audio_path`` (see :class:`~songalign.corpus.aligners.LyricsAligner`)."""
        return align_heard(hear(self._loaded(report), Path(audio_path), self.channel), lines)

    def describe(self) -> dict[str, Any]:
        return {"aligner": "ctc", "transcriber": str(self.folder.resolve())}
