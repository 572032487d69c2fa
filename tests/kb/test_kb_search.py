"""Knowledge-base search by words: segmentation, stop words, synonyms, pinyin, ranking, popularity, odd input.

Pure parts (``callcenter.kb.words``, ``callcenter.kb.search``) with plain values; the search itself
on a real database, SQLite and PostgreSQL (``store_url``), on a few fixed entries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from harness.postgres import store_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when configured)
from callcenter.kb import words
from callcenter.kb.dictionary import DictionaryService
from callcenter.kb.models import KbView
from callcenter.kb.search import PHRASE, SELF, SYNONYM, Alt, Group, Plan, plan_query, score
from callcenter.kb.service import KbService
from callcenter.store import open_database, session_factory
from callcenter.store.models import utcnow
from callcenter.workorders.exceptions import Conflict, InvalidData


# -- pure: words ---------------------------------------------------------------------------------


def test_segmentation_keeps_the_hospitals_terms_whole_and_drops_stop_words():
    plain = words.segmenter(())
    hospital = words.segmenter(words.shipped_terms())
    assert "耳鼻咽喉头颈外科" not in words.query_words("耳鼻咽喉头颈外科在几楼", plain)
    assert words.query_words("请问耳鼻咽喉头颈外科在几楼啊", hospital)[0] == "耳鼻咽喉头颈外科"
    assert words.query_words("孩子发烧了怎么办呢", hospital) == ["孩子", "发烧"]
    assert words.query_words("  ，。！？", hospital) == []
    assert "b超" in words.query_words("做B超要憋尿吗", hospital)  # dictionary words in capitals too
    assert words.query_words("发烧\x00孩子\ud800", hospital) == ["发烧", "孩子"]
    # the index holds the long word and the words inside it
    assert {"出生医学证明", "出生", "证明"} <= set(words.index_words("带上出生医学证明", hospital))
    assert words.segmenter(words.shipped_terms()) is hospital  # made once per dictionary


def test_terms_are_validated():
    assert words.term_problem("川崎病") is None
    assert words.term_problem("") and words.term_problem("a" * 17) and words.term_problem("发\x00烧")
    assert words.term_problem("发 烧") and words.term_problem("…") and words.term_problem("\u200b")


def test_pinyin_map_spells_full_pinyin_and_initials_most_frequent_first():
    spelled = words.pinyin_map({"挂号": 40, "发烧": 30, "放射": 5, "复诊": 9, "门诊部": 3})
    assert spelled["guahao"] == ["挂号"] and spelled["gh"] == ["挂号"]
    assert spelled["fs"] == ["发烧", "放射"]
    assert spelled["mzb"] == ["门诊部"]


# -- pure: plan and score ------------------------------------------------------------------------


def plan_of(q: str, found: list[str], synonyms=None, spelled=None) -> Plan:
    table = spelled or {}
    return plan_query(q, found, synonyms=synonyms or {}, parts=lambda w: [],
                      spelled=lambda latin: table.get(latin, []))


def test_a_plan_expands_synonyms_and_pinyin_and_keeps_the_word_first():
    plan = plan_of("发热 gh", ["发热", "gh"], synonyms={"发热": ("发烧", "高烧")}, spelled={"gh": ["挂号"]})
    assert plan.words == ("发热", "gh")
    assert plan.groups[0].alts == (Alt("发热", SELF), Alt("发烧", SYNONYM), Alt("高烧", SYNONYM))
    assert [a.text for a in plan.groups[1].alts] == ["gh", "挂号"]
    assert plan.terms == ("发热", "gh", "发烧", "高烧", "挂号")
    # gua hao typed apart, and yuyueguahao run together
    assert plan_of("gua hao", ["gua", "hao"], spelled={"guahao": ["挂号"]}).words == ("guahao",)
    both = plan_of("yuyueguahao", ["yuyueguahao"], spelled={"yuyue": ["预约"], "guahao": ["挂号"]})
    assert both.words == ("yuyue", "guahao")
    assert not plan_of("。。", [])


def test_score_orders_question_keywords_answer_word_before_synonym_and_phrase_first():
    plan = Plan("发烧", (Group("发烧", (Alt("发烧", SELF), Alt("发热", SYNONYM))),))
    in_question = score(("孩子发烧", "", ""), plan, {})
    in_keywords = score(("孩子不舒服", "发烧", ""), plan, {})
    in_answer = score(("孩子不舒服", "", "发烧时多喝水"), plan, {})
    synonym_in_question = score(("孩子发热", "", ""), plan, {})
    assert in_question > synonym_in_question > in_answer > 0
    assert in_question > in_keywords > in_answer
    # a query of two words or more found verbatim in a question puts that entry first
    two = Plan("孩子咳嗽", (Group("孩子", (Alt("孩子", SELF),)), Group("咳嗽", (Alt("咳嗽", SELF),))))
    assert score(("孩子咳嗽怎么办", "", ""), two, {}) > PHRASE > score(("咳嗽的孩子", "孩子咳嗽", "孩子咳嗽"), two, {})
    assert score(("挂号", "", ""), plan, {}) == 0.0
    # every word found beats the rarest word alone
    assert score(("", "", "孩子咳嗽了"), two, {"孩子": 0.2, "咳嗽": 2.0}) > score(("", "", "咳嗽"), two,
                                                                                 {"孩子": 0.2, "咳嗽": 2.0})


def test_popularity_breaks_near_ties_but_never_lifts_a_weaker_match():
    plan = Plan("发烧", (Group("发烧", (Alt("发烧", SELF),)),))
    tie = ("孩子发烧怎么办", "", "")
    assert score(tie, plan, {}, views=50) > score(tie, plan, {}, views=0)
    assert score(("孩子不舒服", "发烧", ""), plan, {}, views=10_000) < score(tie, plan, {}, views=0)
    assert score(("挂号", "", ""), plan, {}, views=10_000) == 0.0


# -- the search on a database --------------------------------------------------------------------


@pytest.fixture
async def kb(store_url: str) -> AsyncIterator[KbService]:
    engine = await open_database(store_url)
    service = KbService(session_factory(engine), make_url(store_url).get_backend_name())
    service.dictionary = DictionaryService(session_factory(engine), service.index)  # type: ignore[attr-defined]
    await service.dictionary.seed()  # type: ignore[attr-defined]
    await service.index.ensure()
    yield service
    await engine.dispose()


async def add(kb: KbService, question: str, answer: str, keywords: str = "") -> int:
    return (await kb.create({"question": question, "answer": answer, "keywords": keywords, "category": "medical"},
                            "tester"))["id"]


async def ids(kb: KbService, q: str, **kw) -> list[int]:
    return [r["id"] for r in (await kb.search(q, **kw))["results"]]


async def fixed(kb: KbService) -> dict[str, int]:
    return {
        "fever": await add(kb, "孩子发烧怎么办？", "体温超过38.5℃可以用布洛芬，精神差请来急诊。", "发烧 退烧药"),
        "register": await add(kb, "怎么预约挂号？", "通过官方APP或公众号预约挂号。", "预约 挂号"),
        "newborn": await add(kb, "刚出生的宝宝没上户口怎么挂号？", "用出生医学证明编号建档挂号。", "新生儿 挂号"),
        "report": await add(kb, "检验报告在哪里查？", "在APP的报告查询里看，或到自助机打印。", "化验 报告"),
        "night": await add(kb, "晚上有门诊吗？", "晚上只有急诊，夜间门诊看常见病。", "夜间门诊 晚上"),
    }


async def test_operators_phrases_find_the_entry_that_answers(kb):
    e = await fixed(kb)
    assert (await ids(kb, "孩子发烧了怎么办啊"))[0] == e["fever"]  # particles
    assert (await ids(kb, "发热怎么办"))[0] == e["fever"]  # a synonym the entry never uses
    assert (await ids(kb, "新生儿挂号"))[0] == e["newborn"]  # two words run together
    assert (await ids(kb, "化验结果在哪看"))[0] == e["report"]  # 化验 in the keywords
    assert (await ids(kb, "guahao"))[0] in (e["register"], e["newborn"])  # full pinyin
    assert (await ids(kb, "gua hao"))[0] in (e["register"], e["newborn"])
    assert (await ids(kb, "fs"))[0] == e["fever"]  # initials
    assert (await ids(kb, "fs 孩子"))[0] == e["fever"]  # initials beside a Chinese word
    assert (await ids(kb, "晚上有门诊吗"))[0] == e["night"]  # verbatim in the question: first
    assert await ids(kb, "牙疼") == []


async def test_the_word_itself_ranks_above_a_synonym(kb):
    word = await add(kb, "高烧不退怎么办？", "及时就医。")
    synonym = await add(kb, "发烧不退怎么办？", "及时就医。")
    assert (await ids(kb, "高烧"))[:2] == [word, synonym]
    assert (await ids(kb, "发烧"))[:2] == [synonym, word]


async def test_the_index_follows_updates_deletes_and_imports(kb):
    entry = await add(kb, "核磁要等多久？", "按预约单时间检查。", "核磁")
    assert await ids(kb, "预约单") == [entry]
    await kb.update(entry, {"answer": "请按检查单上的时间到达。"}, "editor")
    assert await ids(kb, "预约单") == []
    assert await ids(kb, "检查单") == [entry]
    await kb.delete(entry, "editor")
    assert await ids(kb, "核磁") == []
    async with kb._sessions() as session:  # the word index holds active entries only
        assert await session.scalar(text("SELECT count(*) FROM kb_fts_words")) == 0
    report = await kb.import_csv(f"id,question,answer\n{entry},核磁共振前要镇静吗？,小年龄需要镇静。\n", "editor")
    assert report["updated"] == 1 and await ids(kb, "镇静") == [entry]


async def test_a_dictionary_term_rebuilds_the_index_and_is_remembered(kb, store_url):
    entry = await add(kb, "川崎病出院后怎么复查？", "按随访单复查心脏彩超。")
    assert await ids(kb, "cqb") == []  # 川崎病 is not a word yet
    term = await kb.dictionary.add_term("川崎病", "boss")  # type: ignore[attr-defined]
    assert await ids(kb, "cqb") == [entry] and await ids(kb, "chuanqibing") == [entry]
    with pytest.raises(Conflict):
        await kb.dictionary.add_term("川崎病", "boss")  # type: ignore[attr-defined]
    with pytest.raises(InvalidData):
        await kb.dictionary.add_term("川崎\x00病", "boss")  # type: ignore[attr-defined]
    # a second process (a restart) finds the index built with this dictionary: no rebuild
    engine = await open_database(store_url)
    try:
        again = KbService(session_factory(engine), kb.dialect)
        rebuilt = []
        again.index.rebuild = lambda: rebuilt.append(1)  # type: ignore[method-assign]
        await again.index.ensure()
        assert rebuilt == [] and "川崎病" in again.index.dictionary
    finally:
        await engine.dispose()
    await kb.dictionary.delete_term(term["id"], "boss")  # type: ignore[attr-defined]
    assert await ids(kb, "cqb") == []


async def test_two_rebuilds_at_once_leave_one_row_per_active_entry(kb):
    await fixed(kb)
    await asyncio.gather(kb.index.rebuild(), kb.index.rebuild(), kb.dictionary.add_term("夜间急诊", "boss"))  # type: ignore[attr-defined]
    async with kb._sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM kb_fts_words")) == 5


async def test_synonym_groups_apply_from_the_next_search(kb):
    entry = await add(kb, "孩子总是眨眼清嗓子是怎么回事？", "可能是抽动症，请到神经内科就诊。")
    assert await ids(kb, "挤眉弄眼") == []
    group = await kb.dictionary.add_group(["挤眉弄眼", "眨眼"], "boss")  # type: ignore[attr-defined]
    assert await ids(kb, "挤眉弄眼") == [entry]
    await kb.dictionary.delete_group(group["id"], "boss")  # type: ignore[attr-defined]
    assert await ids(kb, "挤眉弄眼") == []
    with pytest.raises(InvalidData):
        await kb.dictionary.add_group(["眨眼"], "boss")  # type: ignore[attr-defined]


async def test_lookups_of_the_last_30_days_break_a_tie(kb):
    first = await add(kb, "水痘会传染吗？", "会，出疹前后都有传染性。")
    second = await add(kb, "水痘会传染吗？", "会，请居家隔离。")
    ahead, behind = await ids(kb, "水痘")
    assert {ahead, behind} == {first, second}
    now = utcnow()
    async with kb._sessions() as session, session.begin():
        await session.execute(insert(KbView), [{"entry_id": behind, "ticket_id": None, "by": "op", "at": now}] * 3
                              + [{"entry_id": ahead, "ticket_id": None, "by": "op", "at": now - dt.timedelta(days=40)}] * 9)
    assert (await ids(kb, "水痘", now=now + dt.timedelta(minutes=5)))[:2] == [behind, ahead]
    # never above a better match: an entry without the word in its question stays below
    other = await add(kb, "出疹子怎么办？", "水痘要隔离。")
    async with kb._sessions() as session, session.begin():
        await session.execute(insert(KbView), [{"entry_id": other, "ticket_id": None, "by": "op", "at": now}] * 50)
    assert (await ids(kb, "水痘", now=now + dt.timedelta(minutes=10)))[-1] == other


async def test_odd_input_gives_an_empty_or_bounded_result_never_an_error(kb):
    e = await fixed(kb)
    for q in ("", "\x00", "\x00\x00发烧", "发烧" * 5000, "。，、！？…—", "😀😷🤒🤮", "\ud800\udfff",
              '"发烧" * : ^ NEAR AND OR ( ) {question} -', "NEAR(发烧 挂号)", " ".join(f"w{n}" for n in range(200)),
              "%_\\'", "发" * 10_000, "x" * 10_000):
        started = time.perf_counter()
        result = await kb.search(q, limit=8)
        assert time.perf_counter() - started < 2, q[:20]
        assert set(result) == {"query", "terms", "results", "took_ms"}
    assert (await kb.search("😀😷🤒🤮"))["results"] == []
    assert (await kb.search("。，、！？…—"))["results"] == []
    assert (await ids(kb, "\x00\x00发烧"))[0] == e["fever"]
    assert (await ids(kb, '"发烧" * : ^ NEAR AND OR'))[0] == e["fever"]


async def test_a_large_limit_gets_as_many_candidates(kb):
    for n in range(45):
        await add(kb, f"水痘第{n}问？", "居家隔离。")
    assert len(await ids(kb, "水痘", limit=50)) == 45  # the /kb page asks for 50
    assert len(await ids(kb, "水痘", limit=8)) == 8
