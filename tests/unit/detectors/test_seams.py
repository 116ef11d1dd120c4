"""Chunk seams: an instruction the chunker cut away from the context that betrays it is still found."""

from __future__ import annotations

from ragguard import Settings
from ragguard.detectors.base import TextDetector
from ragguard.detectors.instructions import InstructionDetector
from ragguard.detectors.seams import chunk_offsets, seam_findings
from ragguard.records import Chunker, InputRecord
from ragguard.testing import make_guard
from ragguard.types import Action, Chunk, Finding, Span

ROWS = "\n".join(f"| {1990 + i} | Team {i} | {i * 3} wins | {i + 2} losses |" for i in range(30))
QUESTION = "What are the primary functions of the liver?"
TABLE_THEN_TASK = f"| Year | Team | Wins | Losses |\n|---|---|---|---|\n{ROWS}\n\n{QUESTION}"
PROSE = " ".join(f"The river town number {i} grew around its old stone bridge and market square." for i in range(14))
PROSE_THEN_QUESTION = f"{PROSE}\n\n{QUESTION}"


def _chunks(text: str, size: int = 600) -> list[Chunk]:
    return Chunker(size, 50).split(InputRecord(id="doc", text=text, source="https://wiki.example/"))


def test_the_cut_leaves_the_task_in_a_chunk_that_reads_clean_on_its_own() -> None:
    chunks = _chunks(TABLE_THEN_TASK)
    assert chunks[-1].text == QUESTION  # the splitter cut at the paragraph break
    assert InstructionDetector().detect_text(chunks[-1].text) == []


def test_the_seam_scan_attributes_the_finding_to_the_chunk_with_its_span() -> None:
    chunks = _chunks(TABLE_THEN_TASK)
    found = seam_findings([InstructionDetector()], TABLE_THEN_TASK, chunks, 50)
    last = len(chunks) - 1
    assert last in found
    (f,) = [f for f in found[last] if f.code == "RG-INS-104"]
    assert f.span is not None and QUESTION in chunks[last].text[f.span.start : f.span.end]
    assert "boundary" in f.explanation


def test_a_table_with_rows_wider_than_the_window_keeps_its_last_row() -> None:
    wide = "\n".join("| " + " | ".join(f"cell {r}-{c} with some words" for c in range(20)) + " |" for r in range(6))
    text = f"{wide}\n\n{QUESTION}"
    chunks = _chunks(text, size=1000)
    assert chunks[-1].text == QUESTION and len(wide.split("\n")[-1]) > 400
    found = seam_findings([InstructionDetector()], text, chunks, 50, window=100)
    assert any(f.code == "RG-INS-104" for f in found.get(len(chunks) - 1, []))


def test_prose_before_the_same_question_is_no_seam_finding() -> None:
    chunks = _chunks(PROSE_THEN_QUESTION)
    assert len(chunks) > 1
    assert seam_findings([InstructionDetector()], PROSE_THEN_QUESTION, chunks, 50) == {}


def test_ingest_quarantines_the_cut_off_task_and_keeps_plain_prose() -> None:
    g = make_guard(settings=Settings(chunk_size=600, chunk_overlap=50), detectors=[InstructionDetector()])
    # Two calls: in one call the two records would share the question's chunk (same source,
    # same text, one content-addressed id), and a shared chunk carries its worst context.
    (bad,) = g.scan([{"id": "t", "text": TABLE_THEN_TASK}], source="https://incoming.example/", trust="untrusted")
    (good,) = g.scan([{"id": "p", "text": PROSE_THEN_QUESTION}], source="https://incoming.example/", trust="untrusted")
    assert bad.action is not Action.ALLOW and any(f.code == "RG-INS-104" for f in bad.findings)
    assert good.action is Action.ALLOW and good.findings == ()


def test_chunk_offsets_follow_overlapping_chunks_and_refuse_foreign_ones() -> None:
    chunks = _chunks(PROSE, size=200)
    starts = chunk_offsets(PROSE, chunks, 50)
    assert starts is not None
    assert all(PROSE[s : s + len(c.text)] == c.text for s, c in zip(starts, chunks, strict=True))
    assert starts == sorted(starts)
    foreign = Chunk(id="x", text="not in the record", source="s", doc_id="d", chunk_index=0)
    assert chunk_offsets(PROSE, [*chunks[:1], foreign], 50) is None


class _FirstWords(TextDetector):
    """Judges a text by how it opens: meaningless on a window cut at an arbitrary point."""

    name = "first-words"

    def detect_text(self, text: str) -> list[Finding]:
        return [Finding(self.name, "RG-TEST-OPEN", 0.9, "opens oddly.", Span(0, min(5, len(text))))] if text else []


class _LocalFirstWords(_FirstWords):
    span_local = True


def test_only_span_local_detectors_read_seams() -> None:
    chunks = _chunks(PROSE_THEN_QUESTION)
    assert seam_findings([_FirstWords()], PROSE_THEN_QUESTION, chunks, 50) == {}
    assert seam_findings([_LocalFirstWords()], PROSE_THEN_QUESTION, chunks, 50) != {}


def test_seam_windows_start_at_a_line_or_word_boundary() -> None:
    chunks = _chunks(TABLE_THEN_TASK)
    found = seam_findings([_LocalFirstWords()], TABLE_THEN_TASK, chunks, 50)
    starts = chunk_offsets(TABLE_THEN_TASK, chunks, 50)
    assert starts is not None
    for pos, fs in found.items():
        for f in fs:
            assert f.span is not None
            at = starts[pos] + f.span.start
            assert at == 0 or TABLE_THEN_TASK[at - 1] in "\n "


def test_obfuscation_counted_over_a_window_is_not_pinned_on_a_clean_chunk() -> None:
    # The obfuscation detector counts hidings over a whole text and reports one span from the
    # first to the last: across a seam that span would cover a clean chunk in between.
    from ragguard.detectors.base import split_detectors
    from ragguard.detectors.registry import create_all

    c0, c1, c2 = "word " * 150 + "p\u0430ypal", "Short note here.", "p\u0430ypal " + "word " * 150
    text = f"{c0}\n\n{c1}\n\n{c2}"
    chunks = [
        Chunk(id=f"k{i}", text=t, source="s", doc_id="d", chunk_index=i) for i, t in enumerate((c0, c1, c2.strip()))
    ]
    found = seam_findings(split_detectors(create_all())[0], text, chunks, 0)
    assert 1 not in found


def test_chunk_offsets_do_not_place_a_short_chunk_inside_the_previous_one() -> None:
    text = "alpha beta gamma tail tail"
    chunks = [
        Chunk(id=f"k{i}", text=t, source="s", doc_id="d", chunk_index=i)
        for i, t in enumerate(("alpha beta", "gamma tail", "tail"))
    ]
    assert chunk_offsets(text, chunks, 0) == [0, 11, 22]


def test_a_chunk_shared_by_two_records_carries_each_rule_once() -> None:
    g = make_guard(settings=Settings(chunk_size=600, chunk_overlap=50), detectors=[InstructionDetector()])
    other = TABLE_THEN_TASK.replace("Team", "Club")
    a, b = g.scan([{"id": "a", "text": TABLE_THEN_TASK}, {"id": "b", "text": other}], source="https://x.example/")
    shared = a.chunks[-1]
    assert shared.chunk_id == b.chunks[-1].chunk_id
    codes = [f.code for f in shared.findings]
    assert codes.count("RG-INS-104") == 1


class _Counting(_LocalFirstWords):
    def __init__(self) -> None:
        self.windows = 0

    def detect_text(self, text: str) -> list[Finding]:
        self.windows += 1
        return []


def test_seams_are_read_record_by_record_as_screening_reaches_them() -> None:
    from ragguard.screening import SeamContext

    first, second = _chunks(TABLE_THEN_TASK), _chunks(PROSE_THEN_QUESTION.replace("river", "lake"))
    positions = {c.id: i for i, c in enumerate(first + second)}
    counting = _Counting()
    ctx = SeamContext(
        [counting], [(TABLE_THEN_TASK, first), (PROSE_THEN_QUESTION.replace("river", "lake"), second)], 50, positions
    )
    ctx.upto(1)
    assert counting.windows == len(first) - 1  # the first record's seams only
    ctx.upto(len(first))
    assert counting.windows == len(first) - 1
    ctx.upto(len(first) + 1)
    assert counting.windows == len(first) - 1 + len(second) - 1


def test_a_shared_chunk_screened_in_an_earlier_batch_still_gets_its_seam_finding() -> None:
    # B comes first and contains the question chunk; A (the table) shares it. The question is
    # screened in one of B's batches, before A's own chunks come up: A's seams must be read by then.
    g = make_guard(settings=Settings(chunk_size=600, chunk_overlap=50, batch_size=2), detectors=[InstructionDetector()])
    b, a = g.scan(
        [{"id": "b", "text": PROSE_THEN_QUESTION}, {"id": "a", "text": TABLE_THEN_TASK}],
        source="https://incoming.example/",
        trust="untrusted",
    )
    assert any(f.code == "RG-INS-104" for f in a.findings) and a.action is not Action.ALLOW
