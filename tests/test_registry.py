"""The one registry mechanism: registration three ways, lookups, option errors, entry points, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

import songalign.registry
from songalign.align import PRETRAINED
from songalign.align.losses import LOSSES, MarginContrastiveLoss
from songalign.corpus.aligners import ALIGNERS
from songalign.corpus.readers import READERS, read_songs
from songalign.describe.base import DESCRIBERS
from songalign.errors import SkipReport, SongalignError, UnknownNameError
from songalign.registry import Registry, parse_options
from songalign.separate import SEPARATORS
from songalign.towers import AUDIO_TOWERS, TEXT_TOWERS
from songalign.transcribe import BACKENDS, NETWORKS


def test_a_factory_is_registered_as_a_decorator_a_callable_or_a_lazy_string():
    shapes = Registry("shapes", what="shape")

    @shapes.register("square")
    def square(side: float = 1.0) -> float:
        return side * side

    shapes.register("circle", lambda radius=1.0: 3.0 * radius * radius)
    shapes.register("fraction", "fractions:Fraction")

    assert shapes.names() == ["circle", "fraction", "square"]
    assert shapes["square"] is square  # the decorator hands the function back unchanged
    assert shapes.build("square", side=3.0) == 9.0
    assert shapes.build("circle", radius=2.0) == 12.0
    from fractions import Fraction

    assert shapes["fraction"] is Fraction and shapes.build("fraction", numerator=3, denominator=6) == Fraction(1, 2)
    assert "square" in shapes and "triangle" not in shapes and sorted(shapes) == shapes.names()
    shapes.unregister("circle")
    assert shapes.names() == ["fraction", "square"]


def test_an_unknown_name_is_one_sentence_listing_the_choices_and_the_registry_is_a_plain_mapping():
    shapes = Registry("shapes", what="shape")
    shapes.register("square", lambda: 1)
    shapes.register("circle", lambda: 2)
    with pytest.raises(SongalignError, match=r"^unknown shape 'hexagon'; choose one of: circle, square$") as caught:
        shapes["hexagon"]
    assert isinstance(caught.value, UnknownNameError) and isinstance(caught.value, KeyError)
    # Mapping.get keeps its meaning: a default for a missing name, the factory for a known one
    assert shapes.get("hexagon") is None and shapes.get("hexagon", "none") == "none"
    assert shapes.get("square") is shapes["square"] and shapes.get("square")() == 1
    assert dict(shapes.items()).keys() == {"circle", "square"}
    with pytest.raises(SongalignError, match="unknown shape 'hexagon'"):
        shapes.build("hexagon")


def test_a_bad_option_is_named_and_a_type_error_inside_the_factory_is_not_mistaken_for_one():
    shapes = Registry("shapes", what="shape")

    @shapes.register("box")
    def box(width: float, *, height: float = 1.0) -> float:
        return width * height

    @shapes.register("broken")
    def broken(size: int = 1) -> int:
        return size + "1"  # a bug of the factory's own, not a bad option

    with pytest.raises(
        SongalignError, match=r"shape 'box' does not take the option 'depth' \(it takes: width, height\)"
    ):
        shapes.build("box", width=2.0, depth=3.0)
    with pytest.raises(SongalignError, match="shape 'box' needs the option 'width'"):
        shapes.build("box", height=2.0)
    with pytest.raises(TypeError, match="unsupported operand"):
        shapes.build("broken", size=2)


def test_arguments_the_caller_passes_are_not_offered_as_options():
    readers = Registry("readers", what="corpus reader")

    @readers.register("tiny")
    def read_tiny(src, report, *, repeat: int = 1):
        return [src] * repeat

    @readers.register("careless")
    def read_careless(src, *, repeat: int = 1):  # forgot the report every reader is handed
        return [src]

    @readers.register("bare")
    def read_bare(src, report):
        return [src]

    given = {"src": "corpus/", "report": SkipReport()}
    assert readers.build("tiny", given, repeat=2) == ["corpus/", "corpus/"]
    with pytest.raises(
        SongalignError, match=r"^corpus reader 'tiny' does not take the option 'speed' \(it takes: repeat\); fix"
    ):
        readers.build("tiny", given, speed=3)
    with pytest.raises(
        SongalignError, match=r"^corpus reader 'bare' does not take the option 'speed' \(it takes no options\)"
    ):
        readers.build("bare", given, speed=3)
    with pytest.raises(
        SongalignError, match=r"^corpus reader 'tiny': 'src' is set by songalign, not an option; remove it$"
    ):
        readers.build("tiny", given, src="elsewhere/")
    with pytest.raises(
        SongalignError, match=r"^corpus reader 'careless' does not take 'report', which songalign passes"
    ):
        readers.build("careless", given)
    # a built-in reader, through read_songs: src and report are never listed as options
    with pytest.raises(
        SongalignError, match=r"corpus reader 'jamendo' does not take the option 'speed' \(it takes: languages\)"
    ):
        read_songs("jamendo", Path(__file__).parent, SkipReport(), speed=3)


def test_an_options_model_validates_and_the_factory_gets_the_model():
    class Options(BaseModel):
        sides: int = Field(4, ge=3)

    polygons = Registry("polygons", what="polygon")
    polygons.register("regular", lambda options: ("regular", options.sides), options=Options)
    assert polygons.build("regular", sides=6) == ("regular", 6)
    with pytest.raises(
        SongalignError, match=r"polygon 'regular': option 'sides' is invalid \(.*greater than or equal to 3"
    ):
        polygons.build("regular", sides=2)


def test_a_target_that_cannot_be_imported_names_itself():
    shapes = Registry("shapes", what="shape")
    shapes.register("ghost", "songalign_no_such_module:Ghost")
    with pytest.raises(SongalignError, match="shape 'ghost' .* points at 'songalign_no_such_module:Ghost'"):
        shapes["ghost"]
    with pytest.raises(SongalignError, match="cannot be imported"):  # a broken entry is an error, not a missing key
        shapes.get("ghost", None)


def test_command_line_options_are_read_as_yaml_values():
    assert parse_options(["size=3", "audio-dir=audio/", "names=[a, b]", "strict=true", "empty="]) == {
        "size": 3,
        "audio_dir": "audio/",
        "names": ["a", "b"],
        "strict": True,
        "empty": None,
    }
    with pytest.raises(SongalignError, match=r"--option 'size' must look like KEY=VALUE"):
        parse_options(["size"])
    with pytest.raises(SongalignError, match=r"--set 'x=\[1': the value is not valid YAML"):
        parse_options(["x=[1"], flag="--set")


def test_the_built_in_registries_use_it_and_keep_their_names():
    assert {"jamendo", "dali", "folder", "pairs"} <= set(READERS.names())
    assert {"lexicon", "llm"} <= set(DESCRIBERS.names())
    assert LOSSES["margin_contrastive"] is MarginContrastiveLoss
    assert {"crnn", "whisper", "wav2vec2"} <= set(BACKENDS.names())
    with pytest.raises(SongalignError, match="loss 'positive_cosine' does not take the option 'margin'"):
        LOSSES.build("positive_cosine", margin=0.3)


def test_the_registry_docstring_names_the_entry_point_group_and_home_of_every_registry():
    homes = [
        (READERS, "songalign.corpus.readers.READERS"),
        (AUDIO_TOWERS, "songalign.towers.AUDIO_TOWERS"),
        (TEXT_TOWERS, "songalign.towers.TEXT_TOWERS"),
        (LOSSES, "songalign.align.losses.LOSSES"),
        (DESCRIBERS, "songalign.describe.DESCRIBERS"),
        (PRETRAINED, "songalign.align.PRETRAINED"),
        (NETWORKS, "songalign.transcribe.NETWORKS"),
        (BACKENDS, "songalign.transcribe.BACKENDS"),
        (ALIGNERS, "songalign.corpus.aligners.ALIGNERS"),
        (SEPARATORS, "songalign.separate.SEPARATORS"),
    ]
    rows = [line for line in songalign.registry.__doc__.splitlines() if line.startswith("``songalign.")]
    for registry, home in homes:
        assert any(f"``{registry.entry_point_group}``" in row and f"``{home}``" in row for row in rows), home
    assert len(rows) == len(homes)


def test_importing_the_cli_imports_neither_torch_nor_the_describer_backends():
    code = "import sys, songalign.cli; print(json.dumps(sorted(m for m in ('torch', 'httpx', 'vaderSentiment', 'transformers') if m in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", f"import json; {code}"], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == []


PLUGIN = '''
"""A corpus reader and a describer that live outside songalign (registered by entry points only)."""

from pathlib import Path

from songalign.corpus.records import Line, Song
from songalign.describe.base import Description


def read_tiny(src, report, *, repeat=1):
    """One untimed song per <name>.wav with lyrics in <name>.txt beside it."""
    for audio in sorted(Path(src).glob("*.wav")):
        lyrics = audio.with_suffix(".txt")
        if not lyrics.is_file():
            report.skip(audio, "no lyrics file beside it; add <name>.txt", item=audio.stem)
            continue
        text = "\\n".join([lyrics.read_text(encoding="utf-8").strip()] * repeat)
        yield Song(id=audio.stem, audio_path=str(audio.resolve()), lines=[Line(text, 0.0, 0.0)], extra={"untimed": True})


class PlainDescriber:
    name = "plain"
    version = "1"
    chunk_size = 8

    def __init__(self, seed=0, word="plain"):
        self.seed = seed
        self.word = word

    def describe(self, segments):
        labels = {"emotion": "calm", "valence": 0.0, "arousal": 0.0, "intensity": 0.0, "describer": "plain@1"}
        return [Description(f"{self.word} words number {self.seed}", dict(labels)) for _ in segments]

    def cache_identity(self):
        return {"seed": self.seed, "word": self.word}

    def cache_input(self, segment):
        return {"id": segment.id, "text": segment.text}
'''


def _install_plugin(site: Path) -> None:
    """A package on ``site`` that registers through entry points, as `pip install` would leave it."""
    site.mkdir(parents=True)
    (site / "songalign_tiny_plugin.py").write_text(PLUGIN, encoding="utf-8")
    dist_info = site / "songalign_tiny_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: songalign-tiny-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [songalign.readers]
            tiny = songalign_tiny_plugin:read_tiny

            [songalign.describers]
            plain = songalign_tiny_plugin:PlainDescriber
            """
        ),
        encoding="utf-8",
    )


def _songalign(site: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "songalign.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )


def test_a_reader_and_a_describer_from_another_package_show_up_in_the_cli_and_work(tmp_path):
    from songalign.corpus.manifest import CorpusManifest
    from songalign.corpus.testing import write_audio

    site = tmp_path / "site"
    _install_plugin(site)
    corpus = tmp_path / "tiny"
    for index, name in enumerate(["one", "two", "three"]):
        write_audio(corpus / f"{name}.wav", 6.0, frequency=200.0 + 50 * index)
        if name != "three":
            (corpus / f"{name}.txt").write_text(f"sing song {name}", encoding="utf-8")

    helped = _songalign(site, "corpus", "prepare", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "tiny" in helped.stdout and "jamendo" in helped.stdout

    out = tmp_path / "prepared"
    done = _songalign(site, "corpus", "prepare", "tiny", str(corpus), "--out", str(out), "--option", "repeat=2")
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = CorpusManifest.load(out)
    assert sorted(s.id for s in manifest.songs) == ["one", "two"]
    texts = {segment.song_id: segment.text for segment in manifest.segments}
    assert texts["one"] == "sing song one\nsing song one"  # --option reached the reader
    assert "no lyrics file" in (out / "skipped.csv").read_text(encoding="utf-8")

    wrong = _songalign(site, "corpus", "prepare", "tiny", str(corpus), "--out", str(out), "--option", "speed=3")
    assert wrong.returncode == 1
    assert "corpus reader 'tiny' does not take the option 'speed' (it takes: repeat); fix or remove it" in wrong.stderr

    described = _songalign(site, "describe", str(out), "--backend", "plain", "--seed", "7")
    assert described.returncode == 0, described.stdout + described.stderr
    assert {s.description for s in CorpusManifest.load(out).segments} == {"plain words number 7"}
    assert "plain" in _songalign(site, "describe", "--help").stdout
    # the plugin's own option, through --option (and its cache identity keeps the runs apart)
    worded = _songalign(site, "describe", str(out), "--backend", "plain", "--seed", "7", "--option", "word=quiet")
    assert worded.returncode == 0, worded.stdout + worded.stderr
    assert {s.description for s in CorpusManifest.load(out).segments} == {"quiet words number 7"}
    assert json.loads((out / "describe.json").read_text())["options"] == {"word": "quiet", "seed": 7}
    shorthand = _songalign(site, "describe", str(out), "--backend", "plain", "--base-url", "http://127.0.0.1:9/v1")
    assert shorthand.returncode == 1
    assert "describer 'plain' does not take the option 'base_url' (it takes: seed, word)" in shorthand.stderr


def test_every_public_name_of_the_lazy_describe_package_resolves():
    import songalign.describe as describe

    assert sorted(describe.__all__) == sorted(describe._EXPORTS)
    for name in describe.__all__:
        assert getattr(describe, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        describe.nothing  # noqa: B018


def test_the_cli_offers_the_pretrained_models_of_the_registry_as_choices(tmp_path):
    from typer.testing import CliRunner

    from songalign.cli import app

    runner = CliRunner()
    helped = runner.invoke(app, ["models", "build", "--help"], env={"COLUMNS": "200"})
    assert helped.exit_code == 0 and "clap-pre" in helped.output
    wrong = runner.invoke(app, ["models", "build", "clap-post", "--out", str(tmp_path / "m")], env={"COLUMNS": "200"})
    assert wrong.exit_code == 2 and "clap-post" in wrong.output and "clap-pre" in wrong.output
    assert not (tmp_path / "m").exists()
