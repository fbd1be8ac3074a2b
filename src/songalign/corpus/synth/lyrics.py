"""A small grammar that writes plain-English lyric lines, titles and artist names.

Every line carries its section's emotion in clear words (``tears``, ``rage``, ``peaceful`` ...)
so that a lexicon-based describer (NRC emotion lexicon, VADER) can recover it. Lines are
lower-case except for "I", have no punctuation other than apostrophes, and have
:data:`MIN_WORDS` to :data:`MAX_WORDS` words; a word is a whitespace-separated token, exactly
as it is written to ``lyrics/<name>.words.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EMOTIONS: tuple[str, ...] = ("joy", "love", "calm", "sadness", "anger", "fear")
"""The emotion vocabulary of the synthetic corpus, one per section."""

AFFECT: dict[str, tuple[float, float]] = {
    "joy": (0.8, 0.55),
    "love": (0.65, 0.05),
    "calm": (0.35, -0.65),
    "sadness": (-0.7, -0.5),
    "anger": (-0.7, 0.8),
    "fear": (-0.6, 0.45),
}
"""Centre of each emotion in the (valence, arousal) plane, both in [-1, 1]."""

MIN_WORDS = 5
MAX_WORDS = 9


@dataclass(frozen=True)
class Vocabulary:
    """The words one emotion fills the grammar's slots with.

    ``actions`` are verb phrases after "I" ("cry", "hold you close"); ``moods`` are adjectives
    for a person ("I feel so lonely"); ``qualities`` are adjectives for a place or a heart ("the
    cold rain"); ``places`` are singular nouns that take "in"/"through"/"beneath"; ``feelings`` are
    abstract nouns ("sorrow"); ``gerunds`` are "-ing" verb phrases ("crying").
    """

    actions: tuple[str, ...]
    moods: tuple[str, ...]
    qualities: tuple[str, ...]
    places: tuple[str, ...]
    feelings: tuple[str, ...]
    gerunds: tuple[str, ...]


VOCABULARY: dict[str, Vocabulary] = {
    "joy": Vocabulary(
        actions=("dance", "laugh", "sing along", "celebrate", "smile", "laugh out loud", "jump for joy", "shine"),
        moods=("happy", "joyful", "cheerful", "glad", "delighted", "merry", "alive"),
        qualities=("golden", "bright", "sunny", "happy", "joyful", "cheerful", "merry"),
        places=("sunshine", "summer sky", "festival", "carnival", "garden", "morning light", "party"),
        feelings=("joy", "happiness", "laughter", "delight", "glee", "celebration"),
        gerunds=("dancing", "laughing", "singing", "smiling", "celebrating", "shining"),
    ),
    "love": Vocabulary(
        actions=("love you", "kiss you", "hold you close", "adore you", "need you", "cherish you", "dream of you"),
        moods=("loved", "tender", "devoted", "romantic", "adored", "close to you"),
        qualities=("sweet", "tender", "romantic", "lovely", "loving", "warm"),
        places=("moonlight", "candlelight", "embrace of my darling", "garden of roses", "starlight"),
        feelings=("love", "passion", "affection", "romance", "devotion", "tenderness"),
        gerunds=("loving you", "kissing you", "holding you", "longing for you", "embracing you"),
    ),
    "calm": Vocabulary(
        actions=("rest", "breathe slowly", "drift away", "float", "relax", "sleep", "unwind"),
        moods=("peaceful", "calm", "quiet", "gentle", "serene", "still", "relaxed"),
        qualities=("peaceful", "quiet", "still", "gentle", "calm", "serene", "tranquil", "soft"),
        places=("meadow", "lake", "breeze", "river", "valley", "evening light", "shore"),
        feelings=("peace", "calm", "serenity", "stillness", "quiet", "rest"),
        gerunds=("resting", "drifting", "floating", "breathing", "dreaming", "sleeping"),
    ),
    "sadness": Vocabulary(
        actions=("cry", "weep", "mourn", "grieve", "miss you", "fall apart", "cry alone"),
        moods=("lonely", "sad", "broken", "empty", "hopeless", "weary", "lost"),
        qualities=("lonely", "cold", "grey", "empty", "sad", "broken"),
        places=("rain", "winter", "graveyard", "empty house", "funeral", "grey sky"),
        feelings=("sorrow", "grief", "sadness", "despair", "misery", "regret", "loneliness"),
        gerunds=("crying", "weeping", "mourning", "grieving", "fading", "sobbing"),
    ),
    "anger": Vocabulary(
        actions=("fight", "hate you", "curse your name", "burn it down", "smash the walls", "rage", "shout"),
        moods=("angry", "furious", "bitter", "mad", "hateful", "enraged"),
        qualities=("burning", "violent", "brutal", "savage", "bitter", "furious", "angry"),
        places=("fire", "war", "battle", "storm", "street", "inferno"),
        feelings=("rage", "fury", "anger", "hatred", "wrath", "violence"),
        gerunds=("fighting", "raging", "burning", "shouting", "cursing", "hating you"),
    ),
    "fear": Vocabulary(
        actions=("tremble", "hide", "run away", "shiver", "scream", "panic", "shake with fear"),
        moods=("afraid", "scared", "frightened", "terrified", "nervous", "haunted"),
        qualities=("dark", "haunted", "deadly", "cold", "frightening", "terrifying"),
        places=("shadow", "nightmare", "darkness", "forest", "night", "abyss"),
        feelings=("fear", "terror", "dread", "panic", "horror", "fright"),
        gerunds=("trembling", "hiding", "running", "shivering", "screaming", "shaking"),
    ),
}

_TIMES = (
    "tonight",
    "all night long",
    "every day",
    "in the morning",
    "until the end",
    "when the sun goes down",
    "once again",
    "right now",
    "forever",
    "every night",
)
_BODY = ("heart", "soul", "eyes", "mind", "voice")
_PEOPLE = ("you", "home", "us", "my friends", "the past")
_PREPOSITIONS = ("in", "through", "beneath")

# Line templates. Slots from the emotion's vocabulary: {action} {mood} {quality} {place} {place2}
# {feeling} {feeling2} {gerund}; neutral filler: {time} {body} {people} {prep}.
TEMPLATES: tuple[str, ...] = (
    "I {action} {time}",
    "I will {action} {time}",
    "I {action} {prep} the {quality} {place}",
    "{feeling} fills my {body} {time}",
    "I feel so {mood} {time}",
    "there is {feeling} in your {body}",
    "I feel so {mood} when I think of {people}",
    "{feeling} and {feeling2} {prep} the {quality} {place}",
    "nothing but {feeling} {time}",
    "I keep {gerund} {prep} the {place}",
    "can you feel the {feeling} {prep} the {place}",
    "{gerund} {prep} the {quality} {place} {time}",
    "all this {feeling} in my {quality} heart",
    "the {place} is {quality} and I {action}",
    "I remember the {quality} {place}",
    "you bring me {feeling} {time}",
    "when the {place} is {quality} I {action}",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...], avoid: str = "") -> str:
    choices = [o for o in options if o != avoid] or list(options)
    return choices[int(rng.integers(len(choices)))]


def make_line(emotion: str, rng: np.random.Generator, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> str:
    """One lyric line of ``min_words`` to ``max_words`` words that expresses ``emotion``."""
    vocab = VOCABULARY[emotion]
    while True:
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        feeling = _pick(rng, vocab.feelings)
        fills = {
            "action": _pick(rng, vocab.actions),
            "mood": _pick(rng, vocab.moods),
            "quality": _pick(rng, vocab.qualities),
            "place": _pick(rng, vocab.places),
            "feeling": feeling,
            "feeling2": _pick(rng, vocab.feelings, avoid=feeling),
            "gerund": _pick(rng, vocab.gerunds),
            "time": _pick(rng, _TIMES),
            "body": _pick(rng, _BODY),
            "people": _pick(rng, _PEOPLE),
            "prep": _pick(rng, _PREPOSITIONS),
        }
        line = template.format(**fills)
        words = line.split()
        content = [w for w in words if len(w) > 3]
        repeats = len(set(content)) < len(content) or any(a in b for a in content for b in content if a != b)
        if min_words <= len(words) <= max_words and not repeats:  # no "the dark darkness"
            return line


_FIRST_NAMES = ("Zoë", "Chloé", "Björn", "Mia", "Jonas", "Léa", "Noah", "Inès", "Sam", "Ana", "Ravi", "Nadia")
_SURNAMES = ("Lindqvist", "Moreau", "Núñez", "Okafor", "Dubois", "Fischer", "Novák", "O'Brien", "Kowalski", "Sato")
_BANDS = (
    "the Lanterns",
    "Velvet Static",
    "Paper Moons",
    "the Northern Lights",
    "Glass Harbour",
    "Café Noir",
    "the Wild Hearts",
    "Sœur Lumière",
    "Midnight Ferries",
    "the Quiet Storm",
)
_TITLE_SUFFIXES = (" (Live)", " (Radio Edit)", " (Acoustic)", " [Demo]", " (Remix)")


def make_artist(rng: np.random.Generator) -> str:
    """An artist name: a person, a band, or a person "&" a band (may contain non-ASCII and "'")."""
    kind = int(rng.integers(3))
    person = f"{_pick(rng, _FIRST_NAMES)} {_pick(rng, _SURNAMES)}"
    band = _pick(rng, _BANDS)
    if kind == 0:
        return person
    if kind == 1:
        return band[0].upper() + band[1:]
    return f"{person.split()[0]} & {band}"


_NEGATIVE = ("sadness", "anger", "fear")
_SHORT_TIMES = ("Tonight", "Forever", "Once Again", "Right Now", "Every Night")


def make_title(emotion: str, rng: np.random.Generator) -> str:
    """A song title in ``emotion``'s words ("Tender Starlight", "Don't Cry"), sometimes with a suffix."""
    vocab = VOCABULARY[emotion]
    kind = int(rng.integers(4))
    if kind == 0:
        title = f"{_pick(rng, vocab.qualities)} {_pick(rng, vocab.places)}"
    elif kind == 1:
        title = f"{_pick(rng, vocab.feelings)} in the {_pick(rng, vocab.places)}"
    elif kind == 2:
        title = (
            f"don't {_pick(rng, vocab.actions).split()[0]}"
            if emotion in _NEGATIVE
            else f"keep {_pick(rng, vocab.gerunds)}"
        )
    else:
        title = f"{_pick(rng, vocab.actions)} {_pick(rng, _SHORT_TIMES)}"
    title = " ".join(w[:1].upper() + w[1:] for w in title.split())
    if rng.random() < 0.25:
        title += _pick(rng, _TITLE_SUFFIXES)
    return title


def file_stem(artist: str, title: str) -> str:
    """The JamendoLyrics-style file name (no extension): ``Artist_-_Title`` with spaces as ``_``.

    Keeps non-ASCII letters, apostrophes, brackets and ``&`` (as the real corpus does); drops
    characters that are not safe in a Linux file name (``/`` and NUL).
    """
    raw = f"{artist} - {title}".replace("/", "-").replace("\0", "")
    return raw.replace(" ", "_")
