"""The FastAGI server over a real socket: good sessions, garbage and early disconnects."""

import asyncio

import pytest

from callcenter.agi.server import AgiHangup, AgiServer

HEADERS = (
    b"agi_network: yes\n"
    b"agi_network_script: hotline\n"
    b"agi_uniqueid: 1700000000.42\n"
    b"agi_callerid: 13800138000\n"
    b"agi_channel: PJSIP/2001-00000001\n"
    b"\n"
)


@pytest.fixture
async def server(unused_tcp_port):
    seen: list = []

    async def route(agi):
        seen.append(("env", agi.env("uniqueid"), agi.env("callerid")))
        try:
            await agi.answer()
            seen.append(("var", await agi.get_variable("DIALSTATUS")))
            await agi.exec("Dial", 'PJSIP/1001,10,gU(x)')
            seen.append(("after-dial",))
        except AgiHangup as err:
            seen.append(("hangup", str(err)))
            raise

    app = AgiServer()
    app.route("hotline", route)
    await app.start("127.0.0.1", unused_tcp_port)
    yield unused_tcp_port, seen, app
    await app.close()


async def _session(port: int, payload: bytes, replies: list[bytes]) -> list[bytes]:
    """Act as Asterisk: send headers, answer each command line with the next reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    commands = []
    for reply in replies:
        line = await asyncio.wait_for(reader.readline(), 2)
        if not line:
            break
        commands.append(line)
        writer.write(reply)
        await writer.drain()
    rest = await asyncio.wait_for(reader.read(), 2)  # server closes the socket when done
    writer.close()
    return commands + ([rest] if rest else [])


async def test_session_runs_commands_and_reads_results(server):
    port, seen, _ = server
    commands = await _session(port, HEADERS, [b"200 result=0\n", b"200 result=1 (NOANSWER)\n", b"200 result=0\n"])
    assert commands[0] == b"ANSWER\n"
    assert commands[1] == b"GET VARIABLE DIALSTATUS\n"
    assert commands[2] == b'EXEC Dial "PJSIP/1001,10,gU(x)"\n'
    assert seen == [("env", "1700000000.42", "13800138000"), ("var", "NOANSWER"), ("after-dial",)]


async def test_hangup_line_ends_the_session_as_a_hangup(server):
    port, seen, _ = server
    await _session(port, HEADERS, [b"HANGUP\n"])
    assert seen[-1] == ("hangup", "HANGUP")


async def test_result_minus_one_from_exec_is_a_hangup(server):
    port, seen, _ = server
    await _session(port, HEADERS, [b"200 result=0\n", b"200 result=0\n", b"200 result=-1\n"])
    assert seen[-1][0] == "hangup"



async def test_a_command_on_a_dead_channel_is_a_hangup(server):
    """Asterisk's 511 (the channel hung up while the session ran on): a hang-up, not a route failure."""
    port, seen, _ = server
    await _session(port, HEADERS, [b"511 Command Not Permitted on a dead channel or intercept routine\n"])
    assert seen[-1] == ("hangup", "511 Command Not Permitted on a dead channel or intercept routine")

async def test_socket_closed_mid_session_is_a_hangup(server):
    port, seen, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS)
    await reader.readline()
    writer.close()
    for _ in range(50):
        if seen and seen[-1][0] == "hangup":
            break
        await asyncio.sleep(0.02)
    assert seen[-1] == ("hangup", "socket closed")


@pytest.mark.parametrize(
    "payload",
    [
        b"agi_network: yes\nagi_network_scr",  # disconnect before the blank line
        b"\x00\xff garbage without newline",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # a browser on the AGI port
        b"agi_network_script: nosuchroute\n\n",
    ],
)
async def test_garbage_never_reaches_a_route_and_server_keeps_serving(server, payload):
    port, seen, app = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 6) == b""  # closed by the server
    writer.close()
    assert seen == []
    # still serving a real call afterwards
    commands = await _session(port, HEADERS, [b"200 result=0\n", b"200 result=0\n", b"200 result=0\n"])
    assert commands[0] == b"ANSWER\n"
    assert app.sessions == 0


async def test_oversized_headers_are_refused(server):
    port, seen, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_x: " + b"a" * 40000 + b"\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 6) == b""
    writer.close()
    assert seen == []


async def test_abort_cuts_every_open_session_at_once_and_refuses_new_ones(server):
    """A controller that lost the lead: the caller's session ends now (Asterisk goes on in the dialplan)."""
    port, seen, app = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS)
    assert await asyncio.wait_for(reader.readline(), 2) == b"ANSWER\n"  # the session waits for our reply
    app.abort()  # no await
    assert await asyncio.wait_for(reader.read(), 1) == b""  # Asterisk sees the socket close
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
