"""Issue 12, hole 9: a listen is logged once per playback session, and byte ranges count."""

from __future__ import annotations

from callcenter.recording import keys as rec_keys
from callcenter.recording.service import LISTEN_SESSION
from test_recordings import _as, _recording, rec_client  # noqa: F401  (rec_client: fixture)


async def _listens(client, rec_id: int) -> list[tuple[str, str]]:
    await _as(client, "boss")
    body = await (await client.get(f"/api/recordings/{rec_id}/listens")).json()
    return [(e["username"], e["action"]) for e in body["listens"]]


async def test_a_range_request_alone_is_a_logged_listen(rec_client):
    _, rec_id, data = await _recording(rec_client.server.app, "1001")
    await _as(rec_client, "op1")
    ranged = await rec_client.get(f"/api/recordings/{rec_id}/audio", headers={"Range": "bytes=44-"})
    assert ranged.status == 206 and await ranged.read() == data[44:]  # everything but the wav header
    tail = await rec_client.get(f"/api/recordings/{rec_id}/audio?download=1", headers={"Range": "bytes=1000-1999"})
    assert tail.status == 206
    assert await _listens(rec_client, rec_id) == [("op1", "play"), ("op1", "download")]


async def test_one_listen_per_playback_session_not_per_request(rec_client):
    app = rec_client.server.app
    service = app[rec_keys.RECORDINGS]
    _, rec_id, _ = await _recording(app, "1001")
    audio = f"/api/recordings/{rec_id}/audio"
    await _as(rec_client, "op1")
    # a player: a whole fetch, then seeks, then the same page played again a minute later
    for headers in ({}, {"Range": "bytes=0-"}, {"Range": "bytes=8000-"}, {"Range": "bytes=100-200"}, {}):
        assert (await rec_client.get(audio, headers=headers)).status in (200, 206)
    assert (await rec_client.head(audio)).status == 200
    assert await _listens(rec_client, rec_id) == [("op1", "play")]
    # later, after a pause longer than a session, it is a new listen
    now = service.clock()
    service.clock = lambda: now + LISTEN_SESSION + 1
    await _as(rec_client, "op1")
    assert (await rec_client.get(audio, headers={"Range": "bytes=5000-"})).status == 206
    assert (await rec_client.get(audio)).status == 200
    assert await _listens(rec_client, rec_id) == [("op1", "play"), ("op1", "play")]
