"""The knowledge base on a real database: substring search in Chinese, ranking, highlights, edits, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.kb.search import highlight, snippet
from callcenter.kb.service import KbService
from callcenter.store import open_database, session_factory
from callcenter.workorders.exceptions import InvalidData, NotFound

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "kb_sample.csv"


@pytest.fixture
async def kb(store_url: str) -> AsyncIterator[KbService]:
    engine = await open_database(store_url)
    yield KbService(session_factory(engine), make_url(store_url).get_backend_name())
    await engine.dispose()


async def add(kb: KbService, question: str, answer: str, keywords: str = "", category: str = "medical") -> int:
    return (await kb.create({"question": question, "answer": answer, "keywords": keywords, "category": category},
                            "tester"))["id"]


async def ids(kb: KbService, q: str, **kw) -> list[int]:
    return [r["id"] for r in (await kb.search(q, **kw))["results"]]


async def test_substring_search_of_every_length_with_question_hits_first(kb):
    a = await add(kb, "孩子发烧怎么办？", "多喝水，必要时用退烧药。", "发热")
    b = await add(kb, "怎么预约挂号？", "通过官方APP预约。孩子发烧请直接去急诊。", "挂号")
    c = await add(kb, "流感疫苗几岁打？", "6月龄以上可以接种。", "疫苗 发烧")
    assert await ids(kb, "发烧") == [a, c, b]  # question, then keywords, then answer
    assert await ids(kb, "烧") == [a, c, b]  # one character
    assert (await ids(kb, "发烧怎么"))[0] == a  # four characters, verbatim in the question
    assert await ids(kb, "预约") == [b]
    assert await ids(kb, "接种") == [c]
    assert await ids(kb, "急诊") == [b]  # two characters at the end of a sentence
    assert await ids(kb, "发热") == [a]  # two characters at the very end of a column
    assert await ids(kb, "app") == [b]  # case-insensitive
    assert (await ids(kb, "孩子 急诊"))[0] == b  # the entry with every word first, then those with some
    assert set(await ids(kb, "孩子，发烧")) == {a, b, c} and (await ids(kb, "孩子，发烧"))[0] == a
    assert await ids(kb, "牙疼") == []
    assert await ids(kb, "") == []
    assert await ids(kb, "发烧", category="medical", limit=2) == [a, c]


async def test_results_carry_escaped_highlights(kb):
    await add(kb, "<b>发烧</b> & 咳嗽", "发烧时" + "多喝水，" * 40 + "注意发烧。")
    [hit] = (await kb.search("发烧"))["results"]
    assert hit["question_html"] == "&lt;b&gt;<mark>发烧</mark>&lt;/b&gt; &amp; 咳嗽"
    assert hit["snippet_html"].startswith("<mark>发烧</mark>时") and hit["snippet_html"].endswith("…")


async def test_the_index_follows_edits_and_deletes_keep_history(kb):
    entry = await add(kb, "核磁要等多久？", "按预约单时间检查。", "核磁")
    assert await ids(kb, "预约单") == [entry]
    await kb.update(entry, {"answer": "请按检查单上的时间到达。"}, "editor")
    assert await ids(kb, "预约单") == []
    assert await ids(kb, "检查单") == [entry]
    await kb.delete(entry, "editor")
    assert await ids(kb, "核磁") == []
    history = await kb.history(entry)
    assert [(h["action"], h["by"]) for h in history] == [("create", "tester"), ("update", "editor"),
                                                          ("delete", "editor")]
    assert history[1]["before"] == {"answer": "按预约单时间检查。"}
    assert history[1]["after"] == {"answer": "请按检查单上的时间到达。"}
    await kb.update(entry, {"keywords": "核磁 MRI"}, "editor")  # editing a deleted entry revives it
    assert await ids(kb, "mri") == [entry]
    with pytest.raises(NotFound):
        await kb.update(9999, {"answer": "x"}, "editor")


async def test_invalid_entries_say_what_is_wrong(kb):
    with pytest.raises(InvalidData) as caught:
        await kb.create({"question": " ", "answer": 3, "category": "x" * 40}, "tester")
    assert caught.value.problems == [
        {"field": "question", "problem": "must not be empty"},
        {"field": "answer", "problem": "must be a string"},
        {"field": "category", "problem": "is 40 characters, at most 32"},
    ]


async def test_sample_imports_and_round_trips_through_csv(kb):
    report = await kb.import_csv(SAMPLE.read_bytes(), "importer")
    with SAMPLE.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert report == {"created": len(rows), "updated": 0, "unchanged": 0}
    assert len(rows) >= 250
    assert (await kb.search("热性惊厥"))["results"][0]["question"].startswith("孩子发烧抽搐")
    exported = await kb.export_csv()
    again = await kb.import_csv(exported, "importer")
    assert again == {"created": 0, "updated": 0, "unchanged": len(rows)}
    changed = exported.replace("本院门诊实行实名制预约挂号。", "本院门诊全面实行实名制预约挂号。", 1)
    assert await kb.import_csv(changed, "importer") == {"created": 0, "updated": 1, "unchanged": len(rows) - 1}
    assert (await kb.search("全面实行"))["results"][0]["id"] == 1
    # A bad file changes nothing and names each problem by line.
    bad = "id,question,answer\nabc,问题,回答\n,,回答\n"
    with pytest.raises(InvalidData) as caught:
        await kb.import_csv(bad, "importer")
    assert [p["field"] for p in caught.value.problems] == ["line 2: id", "line 3: question"]
    with pytest.raises(InvalidData, match="columns"):
        await kb.import_csv("问题,回答\n1,2\n", "importer")
    assert list(csv.reader(io.StringIO(exported)))[0][:3] == ["id", "question", "answer"]


async def test_csv_in_gb18030_or_with_a_bom_imports_and_garbage_names_its_line(kb):
    text = "question,answer,category\n医保怎么报销,带上医保卡到收费处,医保\n"
    assert (await kb.import_csv(text.encode("gb18030"), "importer"))["created"] == 1
    assert (await kb.import_csv(b"\xef\xbb\xbf" + text.encode(), "importer"))["created"] == 1
    with pytest.raises(InvalidData) as caught:
        await kb.import_csv(b"question,answer\n\xff\xfe,x\n", "importer")
    assert caught.value.slug == "kb.invalid_csv"
    assert str(caught.value) == "the CSV is not text (UTF-8 or GB18030): byte 0xff on line 2"


def test_highlighting():
    assert highlight("发烧和发烧", ("发烧",)) == "<mark>发烧</mark>和<mark>发烧</mark>"
    assert highlight("abc", ("B", "bc")) == "a<mark>bc</mark>"
    assert snippet("短文本", ("文",)) == "短<mark>文</mark>本"
