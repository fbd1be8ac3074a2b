"""Festival's singing mode, run as a program: syllable counts, sung audio and exact word times.

Festival (Debian ``festival`` with the ``festvox-kallpc16k`` voice, ``kal_diphone``, 16 kHz) is
run as ``festival --batch`` on a small Scheme script written here. Its waveform is saved from a
``tts_hooks`` function (``tts_file``'s own output would go to the sound card), and each word's
start and end are printed from the utterance itself: the start of the first phone and the end of
the last phone under its words (those with syllables) in their ``SylStructure``, for each token of the ``Token`` relation
(a token is one word of our lyrics; Festival may read it as several of its words). These are the
times Festival sang, not the score's: its consonants start a little before the note.

Units: seconds; audio float32 mono in [-1, 1].
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songalign.audio.io import load_audio
from songalign.errors import SongalignError

FESTIVAL_MISSING = (
    "Festival is not installed; install it with `apt-get install festival festvox-kallpc16k` "
    "(Debian/Ubuntu) to make the sung test set"
)
"""The one sentence said where Festival is absent."""

VOICE = "voice_kal_diphone"
"""The Festival voice that sings (``festvox-kallpc16k``: American English, male)."""

TIMEOUT = 300.0
"""Seconds one Festival run may take before it counts as failed."""


class FestivalError(SongalignError):
    """Festival failed on one song (the batch skips that song and goes on)."""


def festival_program() -> str | None:
    """The path of the ``festival`` program with the kal voice installed, or ``None``."""
    program = shutil.which("festival")
    if program is None:
        return None
    voices = [Path("/usr/share/festival/voices/english/kal_diphone"), Path("/usr/share/festival/voices/english")]
    return program if any(v.is_dir() for v in voices) else None


def require_festival() -> str:
    """:func:`festival_program`, or a :class:`SongalignError` saying what to install."""
    program = festival_program()
    if program is None:
        raise SongalignError(FESTIVAL_MISSING)
    return program


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run(script: str, workdir: Path) -> list[list[str]]:
    """Run ``script`` with ``festival --batch`` in ``workdir``; the tab-separated lines it printed that
    start with ``@``, split into fields (the ``@`` dropped). Raises :class:`FestivalError`."""
    path = workdir / "run.scm"
    path.write_text(script, encoding="ascii")
    try:
        done = subprocess.run(
            [require_festival(), "--batch", str(path)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise FestivalError(f"Festival took more than {TIMEOUT:g} s") from error
    lines = [line[1:].split("\t") for line in done.stdout.splitlines() if line.startswith("@")]
    problem = next((line for line in (done.stderr + done.stdout).splitlines() if "ERROR" in line), None)
    if done.returncode != 0 or problem is not None:
        raise FestivalError(f"Festival failed: {problem or done.stderr.strip()[-200:] or f'exit {done.returncode}'}")
    return lines


def syllable_counts(words: list[str]) -> list[int]:
    """How many syllables Festival's English lexicon (or its letter-to-sound rules) gives each of ``words``
    (ASCII letters and apostrophes, as :func:`~songalign.corpus.sung.scores.festival_text` makes them)."""
    if not words:
        return []
    listing = " ".join(_scheme_string(w) for w in words)
    script = (
        f"({VOICE})\n"
        '(mapcar (lambda (w) (format t "@%d\\n" (length (car (cdr (cdr (lex.lookup w nil)))))))\n'
        f"  (list {listing}))\n"
    )
    with tempfile.TemporaryDirectory(prefix="songalign-festival-") as folder:
        counts = [int(fields[0]) for fields in _run(script, Path(folder))]
    if len(counts) != len(words):
        raise FestivalError(f"Festival gave {len(counts)} syllable counts for {len(words)} words")
    return counts


@dataclass
class SungAudio:
    """What Festival sang: ``audio`` float32 of shape ``(n,)`` at ``sample_rate`` Hz, and one
    ``(text, start, end)`` per sung token in order (seconds from the audio's start)."""

    audio: np.ndarray
    sample_rate: int
    words: list[tuple[str, float, float]]

    @property
    def seconds(self) -> float:
        """The audio's length in seconds."""
        return len(self.audio) / self.sample_rate


_SING = """(require 'singing-mode)
({voice})
(defvar sung_utterances nil)
(set! tts_hooks (list utt.synth (lambda (utt) (set! sung_utterances (append sung_utterances (list utt))) utt)))
(tts_file "score.xml" 'singing)
(if (not (equal? (length sung_utterances) 1))
    (begin (format t "ERROR: %d utterances\\n" (length sung_utterances)) (exit 1)))
(set! sung (car sung_utterances))
(utt.save.wave sung "sung.wav" 'riff)
(define (sung_edge token feature pick)
  (let ((found nil))
    (mapcar
      (lambda (w)
        (if (item.daughters (item.relation w 'SylStructure))
            (let ((value (item.feat w feature)))
              (set! found (if found (pick found value) value)))))
      (item.daughters token))
    found))
(mapcar
  (lambda (token)
    (let ((start (sung_edge token "R:SylStructure.daughter1.daughter1.segment_start"
                             (lambda (a b) (if (< a b) a b))))
          (end (sung_edge token "R:SylStructure.daughtern.daughtern.segment_end"
                           (lambda (a b) (if (> a b) a b)))))
      (if start (format t "@%s\t%f\t%f\n" (item.name token) start end))))
  (utt.relation.items sung 'Token))
"""


def sing(xml: str, sample_rate: int | None = None) -> SungAudio:
    """Sing the SINGING-DTD score ``xml`` (:func:`~songalign.corpus.sung.scores.singing_xml`) with Festival.

    The audio is resampled to ``sample_rate`` Hz when given (Festival's voice sings at 16 kHz).
    Raises :class:`FestivalError` when Festival fails or sings nothing.
    """
    with tempfile.TemporaryDirectory(prefix="songalign-festival-") as folder:
        workdir = Path(folder)
        (workdir / "score.xml").write_text(xml, encoding="ascii")
        rows = _run(_SING.format(voice=VOICE), workdir)
        if not (workdir / "sung.wav").is_file():
            raise FestivalError("Festival wrote no audio")
        audio, rate = load_audio(workdir / "sung.wav", sample_rate=sample_rate)
    words = [(fields[0], float(fields[1]), float(fields[2])) for fields in rows]
    if not words or not len(audio):
        raise FestivalError("Festival sang no word")
    for (text, start, end), following in zip(words, [*words[1:], None], strict=True):
        if not 0 <= start < end <= len(audio) / rate + 1e-3 or (following is not None and following[1] < end - 1e-3):
            raise FestivalError(f"Festival's times for the word {text!r} ({start:g}-{end:g} s) are out of order")
    return SungAudio(audio.astype(np.float32), rate, words)
