"""Anki decks (.apkg written by genanki, Anki's text export) become MCQs whose wrong options are
the backs of the most similar cards of the same deck."""

from __future__ import annotations

import sys
import time
import zipfile
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError
from probllms_tui.core.readers import read_bank

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flashcard_support import CAPITALS, TrigramEmbedder  # noqa: E402

genanki = pytest.importorskip("genanki")

def write_apkg(path: Path, decks: dict[str, list[tuple[str, str]]], *, cloze: int = 0) -> None:
    built = []
    for i, (name, cards) in enumerate(decks.items()):
        deck = genanki.Deck(1_000_000 + i, name)
        for front, back in cards:
            # A guid per card, as Anki keeps one per note across exports.
            deck.add_note(genanki.Note(model=genanki.BASIC_MODEL, fields=[front, back], guid=genanki.guid_for(front)))
        for k in range(cloze):
            deck.add_note(genanki.Note(model=genanki.CLOZE_MODEL, fields=[f"{{{{c1::Bern}}}} is Swiss {k}", ""]))
        built.append(deck)
    genanki.Package(built).write_to_file(str(path))


def test_apkg_cards_become_mcqs_with_distractors_from_similar_cards(tmp_path):
    path = tmp_path / "geo.apkg"
    write_apkg(path, {"Geography::Europe": CAPITALS, "Tiny": [("a", "b"), ("c", "d")]}, cloze=1)
    load = read_bank(path, embedder=TrigramEmbedder())
    assert len(load.questions) == 6
    assert dict(load.skipped_by_kind()) == {"deck under 4 cards": 2, "cloze note": 2}  # one cloze note per deck
    assert "deck 'Tiny' has 2 card(s); 4 are needed" in [s.reason for s in load.skipped if s.kind != "cloze note"][0]
    by_stem = {q.stem: q for q in load.questions}
    france = by_stem["Capital of France"]
    assert france.option(france.answer) == "Paris"
    assert set(france.options) == {"Paris", "Berlin", "Rome", "Madrid"}  # the other capitals, not the ocean
    assert france.subject == "Geography/Europe" and france.source.startswith("geo.apkg#")
    for q in load.questions:
        assert len(q.options) == 4 and len(set(q.options)) == 4
        assert q.option(q.answer) == dict(CAPITALS)[q.stem]


def test_distractors_and_order_are_reproducible_and_ids_survive_a_growing_deck(tmp_path):
    path = tmp_path / "geo.apkg"
    write_apkg(path, {"Geo": CAPITALS})
    first = read_bank(path, embedder=TrigramEmbedder(), seed=0).questions
    again = read_bank(path, embedder=TrigramEmbedder(), seed=0).questions
    assert first == again
    other_seed = read_bank(path, embedder=TrigramEmbedder(), seed=1).questions
    assert [q.options for q in other_seed] != [q.options for q in first]
    assert [q.id for q in other_seed] == [q.id for q in first]
    # A card added to the deck may change the others' distractors, not their ids (the answer
    # history is keyed by them).
    grown = tmp_path / "grown.apkg"
    write_apkg(grown, {"Geo": CAPITALS + [("Capital of Portugal", "Lisbon")]})
    grown_ids = {q.stem: q.id for q in read_bank(grown, embedder=TrigramEmbedder()).questions}
    assert {q.stem: q.id for q in first}.items() <= grown_ids.items()
    assert len(set(grown_ids.values())) == 7


def test_a_deck_under_four_cards_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "small.apkg"
    write_apkg(path, {"Small": CAPITALS[:3]})
    embedder = TrigramEmbedder()
    with pytest.raises(InputError, match=r"small\.apkg#\d+: no valid questions; first problem: deck 'Small' has 3"):
        read_bank(path, embedder=embedder)
    assert embedder.calls == 0  # nothing to embed: the embedder is not even asked


def test_anki_2_1_collection_is_preferred_over_the_placeholder(tmp_path):
    real, placeholder = tmp_path / "real.apkg", tmp_path / "placeholder.apkg"
    write_apkg(real, {"Geo": CAPITALS})
    write_apkg(placeholder, {"Update": [("Please update to the latest Anki version", "x")] * 4})
    both = tmp_path / "both.apkg"
    with zipfile.ZipFile(both, "w") as out, zipfile.ZipFile(real) as r, zipfile.ZipFile(placeholder) as p:
        out.writestr("collection.anki2", p.read("collection.anki2"))
        out.writestr("collection.anki21", r.read("collection.anki2"))
        out.writestr("media", "{}")
    assert {q.stem for q in read_bank(both, embedder=TrigramEmbedder()).questions} == dict(CAPITALS).keys()


def test_anki_text_export_with_headers(tmp_path):
    path = tmp_path / "deck.txt"
    rows = "\n".join(f"guid{i}\tBasic\tScience::Geo\t{f}\t<b>{b}</b>\t" for i, (f, b) in enumerate(CAPITALS))
    path.write_text("#separator:tab\n#html:true\n#guid column:1\n#notetype column:2\n#deck column:3\n"
                    "#tags column:6\n" + rows + "\nonly-one-column\n", encoding="utf-8")
    load = read_bank(path, embedder=TrigramEmbedder())
    assert len(load.questions) == 6
    q = load.questions[0]
    assert q.stem == "Capital of France" and q.option(q.answer) == "Paris" and q.subject == "Science/Geo"
    assert q.source == "deck.txt:7"
    assert [(s.line, s.kind) for s in load.skipped] == [(13, "malformed")]


def test_cloze_notes_in_a_text_export_are_left_out_not_made_into_questions(tmp_path):
    path = tmp_path / "deck.txt"
    rows = [f"guid{i}\tBasic\tGeo\t{f}\t{b}" for i, (f, b) in enumerate(CAPITALS)]
    rows += ["g1\tCloze\tGeo\tThe mean of a {{c1::Binomial}} is {{c2::np}}.\tBack extra: see lecture 3",
             "g2\tCloze\tGeo\tVariance is {{c1::np(1-p)}}.\t"]
    path.write_text("#separator:tab\n#notetype column:2\n#deck column:3\n" + "\n".join(rows) + "\n", encoding="utf-8")
    load = read_bank(path, embedder=TrigramEmbedder())
    assert len(load.questions) == len(CAPITALS)
    assert not any("{{c" in o or "lecture 3" in o for q in load.questions for o in (q.stem, *q.options))
    assert [(s.line, s.kind) for s in load.skipped] == [(10, "cloze note"), (11, "cloze note")]


def test_anki_text_export_with_named_columns(tmp_path):
    path = tmp_path / "deck.tsv"
    rows = "\n".join(f"tag\t{b}\t{f}" for f, b in CAPITALS)
    path.write_text("#separator:Tab\n#columns:Tags\tBack\tFront\n#deck:Capitals\n" + rows + "\n", encoding="utf-8")
    q = read_bank(path, embedder=TrigramEmbedder()).questions[1]
    assert q.stem == "Capital of Germany" and q.option(q.answer) == "Berlin" and q.subject == "Capitals"


@pytest.mark.parametrize("members,fragment", [
    ({"collection.anki21b": b"\x28\xb5\x2f\xfd", "collection.anki2": b""}, "collection.anki21b"),
    ({"notes.txt": b"hello"}, "not an Anki package"),
    ({"collection.anki2": b"not sqlite at all"}, "not a readable SQLite database"),
])
def test_zips_that_are_not_readable_apkg_are_one_line(tmp_path, members, fragment):
    path = tmp_path / "deck.apkg"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(InputError) as info:
        read_bank(path, embedder=TrigramEmbedder())
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "deck.apkg"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match="not a zip archive"):
        read_bank(path)


@pytest.mark.slow
def test_the_app_embedder_picks_related_distractors(tmp_path):
    """The real all-MiniLM-L6-v2 (loaded lazily on first use)."""
    path = tmp_path / "geo.apkg"
    write_apkg(path, {"Geo": CAPITALS + [("Boiling point of water at sea level", "100 °C"),
                                         ("Chemical symbol of gold", "Au")]})
    started = time.perf_counter()
    load = read_bank(path)
    elapsed = time.perf_counter() - started
    france = next(q for q in load.questions if q.stem == "Capital of France")
    assert set(france.options) == {"Paris", "Berlin", "Rome", "Madrid"}
    assert read_bank(path).questions == load.questions  # same embedder, same questions
    print(f"real embedder: {elapsed:.1f} s for the first read")


def test_anki_fields_keep_a_trace_of_media(tmp_path):
    path = tmp_path / "media.txt"
    cards = [(f'Which organ? <img src="organ{i}.png">', f"organ {i} [sound:organ{i}.mp3]") for i in range(4)]
    path.write_text("#separator:tab\n#html:true\n" + "\n".join(f"{f}\t{b}" for f, b in cards) + "\n",
                    encoding="utf-8")
    q = read_bank(path, embedder=TrigramEmbedder()).questions[0]
    assert q.stem == "Which organ? [image: organ0.png]"
    assert q.option(q.answer) == "organ 0 [sound: organ0.mp3]"
