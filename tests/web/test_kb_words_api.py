"""Supervisors edit the words search uses (dictionary terms, synonym groups) over HTTP; operators cannot.

The search API answers any query, however odd, with its usual shape: never an error."""

from __future__ import annotations

from urllib.parse import quote

from webtools import login


async def search(client, q: str | bytes) -> dict:
    """``q`` as text, or as bytes sent percent-encoded as they are (not valid UTF-8, say)."""
    encoded = quote(q, safe="")
    response = await client.get("/api/kb/search?limit=8&q=" + encoded)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_supervisor_adds_a_term_and_a_synonym_group_with_effect_on_search(app_client):
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    words = await (await app_client.get("/api/kb/words")).json()
    assert words["shipped_terms"] > 100 and words["terms"] == []
    assert any("发热" in g["terms"] for g in words["synonyms"])  # the shipped groups, loaded on first start

    entry = await app_client.post("/api/kb/entries", headers=headers, json={
        "question": "孩子得了川崎病怎么复查？", "answer": "川崎病出院后按心内科的随访单复查心脏彩超。", "category": "medical"})
    assert entry.status == 201, await entry.text()
    entry_id = (await entry.json())["id"]

    # a synonym group makes a word the entry never uses find it
    response = await app_client.post("/api/kb/synonyms", headers=headers, json={"terms": ["皮肤黏膜淋巴结综合征", "川崎病"]})
    assert response.status == 201, await response.text()
    group = await response.json()
    assert group["terms"] == ["皮肤黏膜淋巴结综合征", "川崎病"] and group["updated_by"] == "boss"
    assert (await search(app_client, "皮肤黏膜淋巴结综合征"))["results"][0]["id"] == entry_id

    response = await app_client.put(f"/api/kb/synonyms/{group['id']}", headers=headers, json={"terms": ["kd", "川崎病"]})
    assert response.status == 200 and (await response.json())["terms"] == ["kd", "川崎病"]
    assert entry_id not in [r["id"] for r in (await search(app_client, "皮肤黏膜淋巴结综合征"))["results"]]

    # a dictionary term: kept whole, in the index and for pinyin initials
    response = await app_client.post("/api/kb/terms", headers=headers, json={"word": "川崎病"})
    assert response.status == 201, await response.text()
    term = await response.json()
    assert (await app_client.post("/api/kb/terms", headers=headers, json={"word": "川崎病"})).status == 409
    assert [t["word"] for t in (await (await app_client.get("/api/kb/words")).json())["terms"]] == ["川崎病"]
    assert (await search(app_client, "cqb"))["results"][0]["id"] == entry_id  # initials of the new term
    response = await app_client.delete(f"/api/kb/terms/{term['id']}", headers=headers)
    assert response.status == 200 and (await response.json())["word"] == "川崎病"
    assert (await app_client.delete(f"/api/kb/terms/{term['id']}", headers=headers)).status == 404
    response = await app_client.delete(f"/api/kb/synonyms/{group['id']}", headers=headers)
    assert response.status == 200
    assert (await app_client.delete(f"/api/kb/synonyms/{group['id']}", headers=headers)).status == 404


async def test_bad_terms_and_groups_are_refused_with_every_problem(app_client):
    csrf = await login(app_client, "boss")
    headers = {"X-CSRF-Token": csrf}
    for body in ({"word": ""}, {"word": "a" * 17}, {"word": "发\x00烧"}, {"word": "发 烧"}, {"word": "!!"},
                 {"word": 3}, {}):
        response = await app_client.post("/api/kb/terms", headers=headers, json=body)
        assert response.status == 400, (body, await response.text())
        problem = await response.json()
        assert problem["error"] in ("request.invalid", "kb.invalid_term") and problem["problems"], problem
    for body in ({"terms": ["发烧"]}, {"terms": ["发烧", "发烧"]}, {"terms": ["发烧", "\u200b"]},
                 {"terms": ["x"] * 13}, {"terms": "发烧,发热"}):
        response = await app_client.post("/api/kb/synonyms", headers=headers, json=body)
        assert response.status == 400, (body, await response.text())
        assert (await response.json())["problems"]


async def test_operators_read_the_words_but_cannot_change_them(app_client):
    csrf = await login(app_client, "op1")
    headers = {"X-CSRF-Token": csrf}
    assert (await app_client.get("/api/kb/words")).status == 200
    for method, path, body in (("POST", "/api/kb/terms", {"word": "川崎病"}),
                               ("DELETE", "/api/kb/terms/1", None),
                               ("POST", "/api/kb/synonyms", {"terms": ["甲", "乙"]}),
                               ("PUT", "/api/kb/synonyms/1", {"terms": ["甲", "乙"]}),
                               ("DELETE", "/api/kb/synonyms/1", None)):
        response = await app_client.request(method, path, headers=headers, json=body)
        assert response.status == 403, (method, path, await response.text())


async def test_odd_queries_answer_the_usual_shape_never_an_error(app_client):
    await login(app_client, "op1")
    for q in ("\x00", "发烧\x00孩子", "。，！？…", "😀😷🤒", "\"*:^ NEAR AND OR (", "a" * 1000,
              " ".join(f"w{n}" for n in range(200)), "发烧" * 150, "'; DROP TABLE kb_entries; --",
              "\ud800发烧".encode("utf-8", "surrogatepass"), b"\xff\xfe"):
        result = await search(app_client, q)
        assert set(result) == {"query", "terms", "results", "took_ms"}, q
        assert result["took_ms"] < 1000, q
    assert (await search(app_client, "😀😷🤒"))["results"] == []
    assert (await search(app_client, "。，！？…"))["results"] == []
    assert (await search(app_client, "发烧\x00孩子"))["results"]  # NUL separates words
    long_paste = await search(app_client, "a" * 7000 + "发烧")  # as long as a request line may be: answered
    assert set(long_paste) == {"query", "terms", "results", "took_ms"} and long_paste["results"] == []
    # (10,000 characters cannot reach the handler: aiohttp refuses a request line over 8 KB with its
    # own 400; the service's own test sends them.)
