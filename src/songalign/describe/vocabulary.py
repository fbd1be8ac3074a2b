"""The emotion vocabulary of songalign and the word lists the lexicon describer reads.

Labels use six emotions (the synthetic corpus's vocabulary)::

    joy, love, calm, sadness, anger, fear

Each has a point in the valence/arousal plane (Russell's circumplex; both axes in [-1, 1],
valence = unpleasant → pleasant, arousal = sleepy → excited). The coordinates are rounded
placements of these words in published circumplex studies, not fitted values; they serve to
estimate a segment's valence when VADER finds no word and its arousal (VADER has no arousal).

The NRC word–emotion lexicon (read from the ``nrclex`` wheel) has eight Plutchik emotions plus
two sentiments. :data:`NRC_TO_VOCAB` maps each NRC tag to our vocabulary. NRC has no *love*
and no *calm*, and its bundled copy lacks common lyric words (``sad``, ``tears``, ``alone``,
``scared``), so :data:`SUPPLEMENT` adds a curated list of general English emotion words; a word
in the supplement is scored from the supplement only.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("joy", "love", "calm", "sadness", "anger", "fear")
"""The label vocabulary, in the fixed order used to break ties."""

VALENCE: dict[str, float] = {"joy": 0.8, "love": 0.7, "calm": 0.4, "sadness": -0.7, "anger": -0.6, "fear": -0.7}
"""Circumplex valence of each emotion, in [-1, 1]."""

AROUSAL: dict[str, float] = {"joy": 0.5, "love": 0.1, "calm": -0.7, "sadness": -0.5, "anger": 0.8, "fear": 0.6}
"""Circumplex arousal of each emotion, in [-1, 1]."""

NEGATION_COUNTERPART: dict[str, str] = {
    "joy": "sadness",
    "love": "sadness",
    "calm": "fear",
    "sadness": "calm",
    "anger": "calm",
    "fear": "calm",
}
"""Where a negated emotion's weight goes: "not happy" reads as sad, "not afraid" as calm."""

NRC_TO_VOCAB: dict[str, dict[str, float]] = {
    "joy": {"joy": 1.0},
    "anticipation": {"joy": 0.3},
    "trust": {"love": 0.3, "calm": 0.2},
    "surprise": {"joy": 0.15, "fear": 0.15},
    "sadness": {"sadness": 1.0},
    "anger": {"anger": 1.0},
    "disgust": {"anger": 0.5},
    "fear": {"fear": 1.0},
}
"""Weight each NRC emotion tag gives to each emotion of ours.

The sentiment tags ``positive``/``negative`` count only for a word with no emotion tag:
a positive-only word is low-arousal pleasant (``calm`` 0.5), a negative-only word mildly sad
(``sadness`` 0.3); see :data:`NRC_SENTIMENT_ONLY`. A word's weights are divided by their sum when
it exceeds 1, so a word casts at most one vote and a weakly tagged word (``long``: anticipation)
casts less.
"""

NRC_SENTIMENT_ONLY: dict[str, dict[str, float]] = {"positive": {"calm": 0.5}, "negative": {"sadness": 0.3}}


def _parse_supplement(table: dict[str, str]) -> dict[str, dict[str, float]]:
    """``{"joy": "happy glad fire:0.5"}`` → ``{"happy": {"joy": 1.0}, "fire": {"joy": 0.5}, ...}``."""
    lexicon: dict[str, dict[str, float]] = {}
    for emotion, words in table.items():
        for item in words.split():
            word, _, weight = item.partition(":")
            lexicon.setdefault(word, {})[emotion] = float(weight) if weight else 1.0
    return lexicon


SUPPLEMENT: dict[str, dict[str, float]] = _parse_supplement(
    {
        "joy": """
            happy happiness glad gladness joy joyful joyous cheer cheerful delight delighted smile grin laugh
            laughter sunshine sunny bright shine dance dancing celebrate celebration party fun bliss blissful
            elated ecstatic euphoric euphoria thrill thrilled excite excited exciting wonderful glorious golden
            alive sparkle glitter glow gleam hooray jump play playful merry jolly festival summer
            carnival confetti sing:0.5 song:0.3 music:0.3 hope:0.6 free:0.6 freedom:0.6 fly:0.4 high:0.4
            win:0.7 victory:0.7 bloom:0.5 sun:0.5 light:0.3 morning:0.3
        """,
        "love": """
            love lover loving beloved darling dear sweetheart honey babe baby kiss embrace adore adoration
            tender tenderness devotion devoted romance romantic desire passion passionate cherish caress
            heart:0.3 arms:0.6 together:0.6 forever:0.3 yours:0.6 hold:0.5 touch:0.5 sweet:0.5 affection
            fond valentine wedding marry bride groom crush amour longing:0.5 warm:0.4 close:0.3 mine:0.3
            lips:0.7 eyes:0.2 beside:0.4 hand:0.3
        """,
        "calm": """
            calm calmly peace peaceful quiet quietly still stillness gentle gently soft softly slow slowly
            rest restful breathe breath serene serenity tranquil tranquillity tranquility drift float sleep
            hush ease easy settle lull lullaby meadow stream silent silence:0.7 smooth steady patient
            patience safe:0.7 linger sway mellow relax relaxed unhurried placid soothe soothing unwind
            breeze cloud:0.4 pillow blanket candle dusk:0.4 tide:0.4 lake:0.6 pond:0.6 shore:0.5 harbor:0.6
            harbour:0.6 field:0.4 evening:0.4 sigh:0.3 content contentment
        """,
        "sadness": """
            sad sadness sorrow sorrowful tear cry weep alone lonely loneliness grief grieve mourn mourning
            lost lose gone goodbye miss empty emptiness heartbreak heartache heartbroken broken blue grey
            gray fade ache regret farewell grave funeral despair hopeless melancholy weary wither fallen
            sigh:0.5 rain:0.5 cold:0.4 hurt:0.6 pain:0.6 ashes:0.5 apart:0.6
            leave:0.4 left:0.3 yesterday:0.3 memory:0.3 forgotten forget:0.5 tired:0.5 drown:0.5
            sink:0.4 dim:0.4 die:0.5 dead:0.5 death:0.5 wound:0.5 lament misery
            miserable
        """,
        "anger": """
            anger angry rage raging fury furious mad hate hatred fight scream shout yell burn blood fist
            smash destroy war enemy betray betrayal betrayed liar lie revenge spit curse damn bitter
            bitterness resent resentment roar wrath kick punch slam shatter crush:0.3 storm:0.5
            thunder:0.5 fire:0.5 flame:0.4 violent violence rebel riot snarl growl clench boil seethe
            vengeance outrage enrage enraged insult cheat cheated blame:0.7 break:0.4 wreck sick:0.4 tired:0.2 done:0.2
        """,
        "fear": """
            fear afraid scared scare terror terrified terrify dread dreadful panic tremble shiver shake
            shaking nightmare ghost haunt haunted shadow dark darkness danger dangerous hide hiding chase
            chased monster creep creeping alarm anxious anxiety nervous worry worried hunted trapped trap
            cage eerie horror horrified frighten frightened fright threat helpless doom lurk whisper:0.3
            run:0.4 running:0.4 escape:0.5 cold:0.3 storm:0.3 fire:0.3 night:0.3 midnight:0.4 wolf:0.5
            wolves:0.5 scream:0.5 unknown:0.5 falling:0.4 fall:0.3 edge:0.4 alone:0.2 lost:0.2 siren
            blind:0.4 uncertain doubt:0.5
        """,
    }
)
"""Curated emotion words (lemmas): word → {emotion: weight}; weight 1 unless written ``word:w``."""

# Open-vocabulary wording of each emotion, by intensity band (low, medium, high):
# nouns ("a sense of ___", "___ runs through ...") and adjectives ("the singer sounds ___").
EMOTION_NOUNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "joy": (
        ("contentment", "gladness", "light-heartedness", "quiet cheer"),
        ("joy", "happiness", "cheerfulness", "delight"),
        ("elation", "euphoria", "exuberance", "sheer delight"),
    ),
    "love": (
        ("fondness", "warmth", "affection", "gentle longing"),
        ("tenderness", "love", "devotion", "romantic longing"),
        ("passion", "adoration", "ardent devotion", "consuming desire"),
    ),
    "calm": (
        ("ease", "restfulness", "relaxation", "quietude"),
        ("calm", "serenity", "peacefulness", "stillness"),
        ("deep tranquillity", "profound peace", "utter stillness", "complete serenity"),
    ),
    "sadness": (
        ("wistfulness", "melancholy", "mild sorrow", "gloom"),
        ("sadness", "sorrow", "heartache", "grief"),
        ("despair", "anguish", "desolation", "overwhelming grief"),
    ),
    "anger": (
        ("irritation", "frustration", "resentment", "indignation"),
        ("anger", "bitterness", "defiance", "hostility"),
        ("fury", "rage", "seething wrath", "outrage"),
    ),
    "fear": (
        ("unease", "apprehension", "nervousness", "disquiet"),
        ("fear", "anxiety", "dread", "alarm"),
        ("terror", "panic", "sheer dread", "horror"),
    ),
}

EMOTION_ADJECTIVES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "joy": (("content", "glad", "upbeat"), ("joyful", "happy", "cheerful"), ("elated", "euphoric", "ecstatic")),
    "love": (
        ("fond", "warm", "affectionate"),
        ("tender", "loving", "devoted"),
        ("passionate", "adoring", "lovestruck"),
    ),
    "calm": (
        ("relaxed", "unhurried", "settled"),
        ("calm", "serene", "peaceful"),
        ("deeply tranquil", "utterly still", "blissfully serene"),
    ),
    "sadness": (
        ("wistful", "melancholy", "downcast"),
        ("sad", "sorrowful", "heartsick"),
        ("despairing", "anguished", "desolate"),
    ),
    "anger": (
        ("irritated", "frustrated", "resentful"),
        ("angry", "bitter", "defiant"),
        ("furious", "enraged", "seething"),
    ),
    "fear": (
        ("uneasy", "apprehensive", "nervous"),
        ("afraid", "anxious", "fearful"),
        ("terrified", "panicked", "horrified"),
    ),
}

INTENSITY_WORDS: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
    ("faint", "gentle", "subtle", "mild", "slight"),
    ("clear", "steady", "distinct", "marked", "palpable"),
    ("intense", "overwhelming", "profound", "powerful", "deep"),
)
"""Adjectives for the intensity band of the dominant emotion (low, medium, high)."""

INTENSITY_ADVERBS: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
    ("faintly", "mildly", "a little", "somewhat"),
    ("clearly", "plainly", "openly", "steadily"),
    ("intensely", "deeply", "utterly", "overwhelmingly"),
)

THEMES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "night": (
        "night moon star midnight dusk evening",
        ("the hours after dark", "a moonlit night", "the night sky", "night-time", "the small hours"),
        "",
    ),
    "weather": (
        "rain storm thunder cloud wind sky snow",
        ("changing skies", "wind and weather", "a rainy sky", "the weather", "clouds and sky"),
        "",
    ),
    "water": (
        "sea ocean river wave tide shore lake water",
        ("the pull of the water", "a shoreline", "the open sea", "a river's slow current", "waves on the shore"),
        "",
    ),
    "home": (
        "home house door room window street town city",
        (
            "home and familiar places",
            "an empty house",
            "the streets of home",
            "a city at street level",
            "the rooms of a home",
        ),
        "",
    ),
    "journey": (
        "road mile train drive walk wander travel away highway",
        ("a journey away", "the open road", "leaving and travelling on", "miles still to go", "wandering far"),
        "",
    ),
    "memory": (
        "remember memory yesterday past year old photograph forget",
        ("memories of the past", "time slipping away", "days long gone", "looking back", "what used to be"),
        "",
    ),
    "loss": (
        "goodbye gone lose lost miss empty without apart farewell",
        ("someone who is gone", "absence and loss", "a parting", "a goodbye", "what was lost"),
        "sadness love fear anger",
    ),
    "romance": (
        "kiss darling baby lover arms together touch hold lips embrace",
        ("a lover close by", "someone dear", "two people together", "a cherished partner", "closeness and touch"),
        "love joy sadness calm",
    ),
    "conflict": (
        "fight war fist enemy lie liar betray revenge battle",
        ("a bitter quarrel", "betrayal and conflict", "a fight that will not end", "a broken trust", "a war of words"),
        "anger fear sadness",
    ),
    "danger": (
        "shadow ghost monster chase hide trap cage wolf siren danger",
        (
            "an unseen threat",
            "something lurking in the dark",
            "being hunted",
            "a place of danger",
            "a haunting presence",
        ),
        "fear anger",
    ),
    "celebration": (
        "dance party celebrate music song sing summer festival",
        ("a celebration", "music and dancing", "a summer party", "a festive crowd", "singing together"),
        "joy love",
    ),
    "nature": (
        "morning dawn flower garden field tree breeze meadow sun bird",
        (
            "a morning in nature",
            "fields and open air",
            "sunlight and growing things",
            "a garden in bloom",
            "the countryside",
        ),
        "joy calm love",
    ),
    "hope": (
        "dream hope tomorrow wish fly free rise wing",
        ("hopes for tomorrow", "dreams of freedom", "rising above", "a brighter future", "wishes yet to come true"),
        "joy calm love sadness",
    ),
    "self": (
        "mind soul inside myself alone thought",
        ("the inner self", "the mind", "solitude and reflection", "one's own thoughts", "the soul's inner life"),
        "",
    ),
}
"""Theme buckets: keyword lemmas (space-separated), short paraphrases of the theme, and the
dominant emotions the theme fits (space-separated; empty = any).

A theme is used only with an emotion it fits ("horror" about "the countryside" reads as a
mistake), and its paraphrases stay emotionally neutral within those emotions."""

FALLBACK_THEMES: dict[str, tuple[str, ...]] = {
    "joy": ("a happy moment", "good times", "a carefree day"),
    "love": ("someone close to the heart", "a bond between two people", "a beloved"),
    "calm": ("a quiet moment", "a slow, restful scene", "letting go"),
    "sadness": ("something that has ended", "a heavy heart", "a lonely stretch of life"),
    "anger": ("a grievance", "being wronged", "a betrayal"),
    "fear": ("an uncertain situation", "a looming danger", "something unknown"),
}
"""Themes used when no theme keyword occurs, by dominant emotion."""

STOPWORDS: frozenset[str] = frozenset(
    """a an the and or but if of to in on at by for with from up down out over under again once here there when
    where why how all any both each few more most other some such no nor not only own same so than too very s t
    can will just don should now i me my we our you your he him his she her it its they them their what which who
    whom this that these those am is are was were be been being have has had having do does did doing oh ooh ah
    yeah la na into through as""".split()
)
