"""Phonemes in every language espeak-ng speaks: one IPA inventory, text → phonemes per word, per-frame targets.

A character model can only align lyrics in the spelling it learnt; a phoneme model aligns any language whose
pronunciation is known. espeak-ng (the library the ``espeakng-loader`` wheel bundles, driven through
:class:`songalign.corpus.synth.voice.Espeak`) gives that pronunciation, in IPA, for every language it speaks
(:func:`languages`).

**The inventory** (:data:`PHONEMES`, one for every language, append-only: a model's output columns are its
order) is the IPA's letters as espeak-ng writes them: the consonants and vowels of the IPA chart (with ``ᵻ``,
which espeak's English uses), each vowel also nasalised (``ɑ̃``: French, Portuguese, Polish, Hindi), the
modifier letters of secondary articulation and release (``ʰ ʲ ʷ ˠ ˤ ʼ ⁿ ˡ ᵐ ᵑ``) as symbols of their own, and
last the stress and length marks ``ˈ ˌ ː``. :func:`ipa_symbols` reads any espeak IPA string into it, one
character at a time:

- a letter of the inventory is a symbol; a combining tilde makes the vowel before it nasal; espeak's spelling
  variants are folded (``g`` → ``ɡ``, ``ε`` → ``ɛ``, ``Φ`` → ``ɸ``, the ligatures ``ʦ ʧ ʤ`` → ``t s``, ``t ʃ``,
  ``d ʒ``), so an affricate or a diphthong is its letters (``tʃ`` → ``t``, ``ʃ``; ``aɪ`` → ``a``, ``ɪ``);
- other diacritics (syllabic, dental, voiceless, raised, non-syllabic), tone letters and tone numbers,
  syllable dots, espeak's clitic hyphen and its ASCII names for phonemes without an IPA form are dropped, and
  listed by :func:`unknown_characters` when they are letters;
- **stress and length marks are folded by default** (dropped): in singing the melody sets which syllable is
  accented and how long each vowel lasts, so the marks say what a listener of sung lyrics does not hear, and
  dropping them shares one vowel symbol between languages that write length (Finnish, German, English ``iː``)
  and those that do not. Tone is dropped for the same reason: the melody replaces it. With ``keep_stress`` /
  ``keep_length`` each mark is kept as a symbol of its own where espeak writes it (stress before the stressed
  vowel, length after the long one), which costs a CTC frame like the space between words does.

**Text → phonemes** (:func:`phonemize`): each lyric line is spoken by espeak-ng in the language asked for, with
its phoneme and word events; every phoneme belongs to the word event before it, and every word event to the
written word (whitespace-separated) whose characters it reads. So the phonemes are espeak's for the line in
context (French liaison, English "the" before a vowel) and still come back per written word, even where espeak
reads one written word as several (``"23"`` → "twenty three"). A written word espeak says nothing for (``"—"``)
has no phonemes. These are the phonemes ``espeak-ng -q --ipa`` prints for the line, word for word
(:meth:`~songalign.corpus.synth.voice.Espeak.text_to_phonemes` is that second path; the tests compare both).

**Per-frame targets** (:func:`timed_phonemes`, :func:`frame_targets`): a phoneme event lasts from its sample to
the next event's (espeak reports pauses as phonemes without a name, which end the phoneme before them and are
not symbols); a phoneme of several symbols shares its span equally among them. Frame ``k`` (of
``frame_seconds``, centred at ``k · frame_seconds`` as :func:`songalign.transcribe.data.pitch_onset_targets`
counts) holds the symbol sounding at that time, else the blank (index 0: nothing sung).

**Alignment** (:class:`PhonemeSpelling`): lyrics spelt in :data:`PHONEME_SYMBOLS` (the CTC blank first, then
:data:`PHONEMES`; no word separator: sung words run into each other) for
:func:`songalign.transcribe.align.align_lyrics` and :func:`songalign.transcribe.trust.align_scored`.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from songalign.corpus.synth.voice import IPA_VOWELS
from songalign.errors import SongalignError
from songalign.transcribe.symbols import BLANK, BLANK_INDEX, EMISSION_SECONDS

CONSONANTS: tuple[str, ...] = (
    *"pbtdʈɖcɟkɡqɢʔmɱnɳɲŋɴʙrʀⱱɾɽɸβfvθðszʃʒʂʐçʝxɣχʁħʕhɦɬɮʋɹɻjɰlɭʎʟ",  # pulmonic
    *"ʘǀǃǂǁɓɗʄɠʛ",  # clicks and implosives
    *"ʍwɥʜʢʡɕʑɺɧɫ",  # other symbols
)
"""The IPA chart's consonant letters, in its order."""

VOWELS: tuple[str, ...] = tuple(IPA_VOWELS)
"""The IPA chart's vowel letters (close to open), the rhotic schwas and espeak's ``ᵻ``."""

NASAL = "\u0303"
"""The combining tilde: a vowel followed by it is its nasal symbol."""

MODIFIERS: tuple[str, ...] = tuple("ʰʲʷˠˤʼⁿˡᵐᵑ")
"""Modifier letters kept as symbols of their own: aspiration, palatalisation, labialisation, velarisation,
pharyngealisation, ejection, nasal and lateral release, prenasalisation."""

STRESS_MARKS = ("ˈ", "ˌ")
LENGTH_MARK = "ː"
MARKS: tuple[str, ...] = (*STRESS_MARKS, LENGTH_MARK)
"""Primary and secondary stress, length: symbols only when kept (module docstring)."""

PHONEMES: tuple[str, ...] = (
    *CONSONANTS,
    *VOWELS,
    *(unicodedata.normalize("NFC", vowel + NASAL) for vowel in VOWELS),
    *MODIFIERS,
    *MARKS,
)
"""The phoneme inventory every language shares (module docstring); append-only."""

PHONEME_SYMBOLS: tuple[str, ...] = (BLANK, *PHONEMES)
"""A phoneme model's output classes: the CTC blank (index 0), then :data:`PHONEMES`."""

_INDEX = {symbol: index for index, symbol in enumerate(PHONEME_SYMBOLS)}
_LETTERS = frozenset(CONSONANTS) | frozenset(VOWELS)
_FOLDS = {"g": "ɡ", "ε": "ɛ", "Φ": "ɸ", "ʦ": "ts", "ʧ": "tʃ", "ʤ": "dʒ", "ˑ": LENGTH_MARK}


def ipa_symbols(ipa: str, *, keep_stress: bool = False, keep_length: bool = False) -> list[str]:
    """The inventory symbols of an espeak IPA string (a phoneme, a word or more), in order (module docstring).

    E.g. ``ipa_symbols("ʃˈɑ̃tt")`` is ``["ʃ", "ɑ̃", "t", "t"]`` and with ``keep_stress``
    ``["ʃ", "ˈ", "ɑ̃", "t", "t"]``.
    """
    symbols: list[str] = []
    for character in unicodedata.normalize("NFD", ipa):
        for folded in _FOLDS.get(character, character):
            if folded == NASAL:
                if symbols and symbols[-1] in VOWELS:
                    symbols[-1] = unicodedata.normalize("NFC", symbols[-1] + NASAL)
            elif folded in _LETTERS or folded in MODIFIERS:
                symbols.append(folded)
            elif (folded in STRESS_MARKS and keep_stress) or (folded == LENGTH_MARK and keep_length):
                symbols.append(folded)
    return symbols


def unknown_characters(ipa: str) -> list[str]:
    """The distinct letters of ``ipa`` that :func:`ipa_symbols` drops (not marks, diacritics or tone numbers):
    an espeak phoneme the inventory does not hold, e.g. espeak's ASCII name ``"S"`` for one without an IPA form."""
    found = dict.fromkeys(
        ch
        for ch in unicodedata.normalize("NFD", ipa)
        if unicodedata.category(ch).startswith("L")
        and all(f not in _LETTERS and f not in MODIFIERS and f not in MARKS for f in _FOLDS.get(ch, ch))
    )
    return list(found)


def phoneme_indices(symbols: Sequence[str]) -> list[int]:
    """The :data:`PHONEME_SYMBOLS` index of each of ``symbols`` (from :func:`ipa_symbols`)."""
    return [_INDEX[symbol] for symbol in symbols]


# -- espeak-ng -------------------------------------------------------------------------------------------


@functools.cache
def languages() -> dict[str, str]:
    """The languages espeak-ng speaks here: ``{code: voice name}``, e.g. ``{"fr": "French (France)", …}``,
    sorted by code (spelt as espeak spells it). Every code a voice answers to counts (``"fr"`` and ``"fr-fr"``);
    a voice whose dictionary the bundled data lacks is left out (it reads nothing), and so is a code that
    chooses no voice."""
    from songalign.corpus.synth.voice import Espeak, data_path

    data = data_path()
    with Espeak("en") as espeak:
        voices = [(name, identifier, codes) for name, identifier, codes in espeak.voices() if codes]
        spoken = [voice for voice in voices if (data / f"{_dictionary_of(data, *voice[1:])}_dict").is_file()]
        named: dict[str, str] = {}
        for name, identifier, codes in spoken:  # a code is named first by the voice it names ("fr": roa/fr)
            base = identifier.rsplit("/", 1)[-1]
            named.setdefault(next((code for code in codes if code.lower() == base.lower()), codes[0]), name)
        for name, _, codes in spoken:
            for code in codes:
                named.setdefault(code, name)
        found: dict[str, str] = {}
        for code, name in named.items():
            try:
                espeak.set_language(code)  # a few codes (chr-US-Qaaa-x-west) choose no voice
            except SongalignError:
                continue
            found[code] = name
    return dict(sorted(found.items()))


def _dictionary_of(data, identifier: str, codes: tuple[str, ...]) -> str:
    """The dictionary a voice reads: its voice file's ``dictionary`` line (``no`` for Norwegian ``nb``), else its
    first language code up to the first ``-`` (``en`` for ``en-us``), as espeak-ng chooses it."""
    voice_file = data / "lang" / identifier
    if voice_file.is_file():
        for line in voice_file.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "dictionary":
                return parts[1]
    return codes[0].split("-", 1)[0].lower()


def check_language(language: str) -> str:
    """``language`` as espeak-ng spells the code (case aside: ``"PT-BR"`` is ``"pt-br"``) when it speaks it
    (:func:`languages`), else one :class:`SongalignError`."""
    code = {known.lower(): known for known in languages()}.get(language.strip().lower())
    if code is None:
        raise SongalignError(
            f"espeak-ng speaks no language {language!r}; `songalign transcribe languages` lists the codes it "
            "speaks (e.g. en, fr, es, de, it, pt)"
        )
    return code


def language_code(language: str) -> str:
    """The espeak-ng code of ``language``: a code it speaks (:func:`check_language`), or a language's English name as
    corpora write it (``"german"`` → ``de``, ``"English"`` → ``en``: the shortest code of a voice whose name is that
    word, alone or before a parenthesis); one :class:`SongalignError` when espeak-ng speaks neither."""
    try:
        return check_language(language)
    except SongalignError:
        wanted = language.strip().lower()
        named = [code for code, name in languages().items() if name.lower().split(" (")[0] == wanted]
        if not named:
            raise
        return min(named, key=lambda code: (len(code), code))


def song_language(song) -> str:
    """The espeak-ng code of a :class:`~songalign.corpus.records.Song`'s language: its ``extra["language_code"]``
    (a sung synthetic corpus's), else its ``language`` field (:func:`language_code`), else ``en``."""
    given = song.extra.get("language_code") or song.language or "en"
    return language_code(str(given))


def _word_of_positions(line: str) -> list[int]:
    """For each character of ``line``, the index of the whitespace-separated word it is in (-1 for spaces)."""
    owners, word, inside = [], -1, False
    for character in line:
        if character.isspace():
            inside = False
            owners.append(-1)
        else:
            if not inside:
                word += 1
                inside = True
            owners.append(word)
    return owners


def _written_word(owners: list[int], position: int) -> int:
    """The written word a word event at character ``position`` reads: the one there, else the next one."""
    for owner in owners[max(position, 0) :]:
        if owner >= 0:
            return owner
    return max(owners, default=-1)


def phonemize(
    lines: Sequence[str], language: str, *, keep_stress: bool = False, keep_length: bool = False
) -> list[list[list[str]]]:
    """The phoneme symbols of each written word of each line: ``result[line][word]`` is a list of
    :data:`PHONEMES` (empty for a word espeak says nothing for), words being ``line.split()``.

    ``language`` is an espeak-ng code (:func:`check_language`: one sentence when espeak lacks it). Each line is
    spoken by espeak-ng with phoneme events (module docstring): about 15 ms a ten-word line here.
    """
    from songalign.corpus.synth.voice import Espeak

    code = check_language(language)
    result: list[list[list[str]]] = []
    with Espeak("en", phoneme_events=True) as espeak:
        espeak.set_language(code)
        for line in lines:
            written = line.split()
            words: list[list[str]] = [[] for _ in written]
            if written:
                text = " ".join(written)
                owners = _word_of_positions(text)
                utterance = espeak.synthesize(text, pitch=50, rate=175, pitch_range=50)
                readers = [_written_word(owners, event.position) for event in utterance.words]
                for event in utterance.phonemes:
                    if event.word >= 0 and event.name:
                        words[readers[event.word]] += ipa_symbols(
                            event.name, keep_stress=keep_stress, keep_length=keep_length
                        )
            result.append(words)
    return result


@dataclass(frozen=True)
class TimedPhoneme:
    """A phoneme symbol of :data:`PHONEMES` sounding from ``start`` to ``end`` (seconds), in written word ``word``
    (its index in the text's ``split()``)."""

    symbol: str
    start: float
    end: float
    word: int


def timed_phonemes(
    text: str, utterance, sample_rate: int, *, keep_stress: bool = False, keep_length: bool = False
) -> list[TimedPhoneme]:
    """The symbols of an espeak-ng ``utterance`` of ``text`` (a :class:`~songalign.corpus.synth.voice.Utterance`
    spoken with ``phoneme_events``) with their times in seconds from its first sample (module docstring),
    ``sample_rate`` the utterance's rate in Hz."""
    owners = _word_of_positions(text)
    readers = [_written_word(owners, event.position) for event in utterance.words]
    events = utterance.phonemes
    timed: list[TimedPhoneme] = []
    for index, event in enumerate(events):
        if not event.name or event.word < 0:
            continue
        end = events[index + 1].sample if index + 1 < len(events) else utterance.end
        timed += _shared(
            event.name, event.sample / sample_rate, end / sample_rate, readers[event.word], keep_stress, keep_length
        )
    return timed


def _shared(ipa: str, start: float, end: float, word: int, keep_stress: bool, keep_length: bool) -> list[TimedPhoneme]:
    """The symbols of one espeak phoneme ``ipa`` sounding from ``start`` to ``end`` seconds, its span shared
    equally among them."""
    symbols = ipa_symbols(ipa, keep_stress=keep_stress, keep_length=keep_length)
    edges = np.linspace(start, max(end, start), len(symbols) + 1)
    return [
        TimedPhoneme(symbol, float(a), float(b), word)
        for symbol, a, b in zip(symbols, edges[:-1], edges[1:], strict=True)
    ]


def annotated_phonemes(
    rows: Sequence[dict], *, keep_stress: bool = False, keep_length: bool = False
) -> list[TimedPhoneme]:
    """The symbols of a sung corpus song's phoneme annotation (``Song.extra["phonemes"]``: ``{"start", "end",
    "ipa", "word"}`` per espeak phoneme, seconds; :mod:`songalign.corpus.synth.render`), for
    :func:`frame_targets`; a phoneme of several symbols shares its span equally among them, as in
    :func:`timed_phonemes`."""
    timed: list[TimedPhoneme] = []
    for row in rows:
        timed += _shared(row["ipa"], float(row["start"]), float(row["end"]), int(row["word"]), keep_stress, keep_length)
    return timed


def frame_targets(
    phonemes: Sequence[TimedPhoneme], frames: int, frame_seconds: float = EMISSION_SECONDS, offset: float = 0.0
) -> np.ndarray:
    """Per-frame targets ``(frames,)`` int64 over :data:`PHONEME_SYMBOLS`: frame ``k`` holds the symbol sounding
    at ``offset + k · frame_seconds`` seconds (``offset``: where the phonemes' time 0 lies in the clip), else the
    blank (index 0)."""
    targets = np.full(frames, BLANK_INDEX, dtype=np.int64)
    times = np.arange(frames) * frame_seconds
    for phoneme in phonemes:
        inside = (times >= phoneme.start + offset) & (times < phoneme.end + offset)
        targets[inside] = _INDEX[phoneme.symbol]
    return targets


def model_spelling(network, language: str | None = None):
    """How a transcriber whose lyrics network is ``network`` (a :class:`~songalign.transcribe.networks.NetworkConfig`)
    spells lyrics in ``language`` (an espeak-ng code or a language's name, :func:`language_code`; None: English):
    :data:`~songalign.transcribe.align.LETTERS` for a character model (accents stripped, whatever the language), a
    :class:`PhonemeSpelling` with the model's stress and length marks for a phoneme model."""
    from songalign.transcribe.align import LETTERS

    if network.symbols != "phonemes":
        return LETTERS
    code = language_code(language or "en")
    return PhonemeSpelling(code, keep_stress=network.keep_stress, keep_length=network.keep_length)


class PhonemeSpelling:
    """Lyrics spelt in :data:`PHONEME_SYMBOLS` for forced alignment (:class:`songalign.transcribe.align.Spelling`),
    by espeak-ng in ``language`` (checked now: one sentence when espeak lacks it), stress and length marks as the
    model was trained (folded by default)."""

    name = "phonemes"
    symbols = PHONEME_SYMBOLS

    def __init__(self, language: str = "en", *, keep_stress: bool = False, keep_length: bool = False) -> None:
        self.language = check_language(language)
        self.keep_stress, self.keep_length = keep_stress, keep_length

    def spell(self, line_words: Sequence[Sequence[str]]) -> tuple[list[int], list[tuple[int, int] | None]]:
        """``(tokens, spans)``: the phoneme indices of every written word in order, and each word's ``(first,
        last)`` token index (None for a word without phonemes). One sentence when no word has a phoneme."""
        spoken = phonemize(
            [" ".join(words) for words in line_words],
            self.language,
            keep_stress=self.keep_stress,
            keep_length=self.keep_length,
        )
        tokens: list[int] = []
        spans: list[tuple[int, int] | None] = []
        for line in spoken:
            for symbols in line:
                spans.append((len(tokens), len(tokens) + len(symbols) - 1) if symbols else None)
                tokens += phoneme_indices(symbols)
        if not tokens:
            raise SongalignError(
                f"espeak-ng reads no phonemes in the lyrics in language {self.language!r}; give the song's lyric "
                "lines, and --language the language they are written in"
            )
        return tokens, spans

    def why_unplaced(self, text: str) -> str:
        """Why a line or word ``text`` got no phonemes, in a few words."""
        return f"espeak-ng reads no phonemes in it (language {self.language})"
