"""The IVR flow against a scripted AGI: barge-in, language switch, menu retries, garbage, hangups."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from callcenter.agi.server import AgiCommandError, AgiHangup
from callcenter.ivr.flow import ANY_OPERATOR, IvrFlow, Route
from callcenter.ivr.schedule import parse_rule
from callcenter.settings import HospitalSettings, IvrSettings

JULY = dt.datetime(2025, 7, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
JAN_NIGHT = dt.datetime(2025, 1, 20, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
RULES = [
    parse_rule({"name": "night", "message": "night", "times": "22:00-07:00", "priority": 80}),
    parse_rule({"name": "flu", "message": "flu", "from": "11-01", "to": "03-31", "priority": 60}),
    parse_rule({"name": "heatstroke", "message": "heatstroke", "from": "06-01", "to": "09-30", "priority": 50}),
    parse_rule({"name": "default", "message": "default", "default": True}),
]


class FakeAgi:
    """Answers STREAM FILE / WAIT FOR DIGIT from a script: prompt name -> keys pressed, in order."""

    def __init__(self, keys: dict[str, list[str | None]] | None = None, waits: list[str | None] | None = None) -> None:
        self.keys = defaultdict(list, {k: list(v) for k, v in (keys or {}).items()})
        self.waits = list(waits or [])
        self.played: list[str] = []  # "<language>/<prompt>"
        self.variables: dict[str, str] = {}
        self.wait_timeouts: list[int] = []
        self.gone = False  # the caller hung up: every later command fails as Asterisk's would

    async def set_variable(self, name: str, value: object) -> None:
        self.variables[name] = str(value)

    async def run(self, command: str) -> dict:
        if self.gone:
            raise AgiHangup("HANGUP")
        if command.startswith("STREAM FILE "):
            path = command.split()[2]
            language, name = path.split("/")[-2:]
            assert path.startswith("/snd/hotline/")
            self.played.append(f"{language}/{name}")
            script = self.keys[name]
            key = script.pop(0) if script else None
            if key == "HANGUP":
                self.gone = True
                raise AgiHangup("HANGUP")
            if key == "FAIL":
                raise AgiHangup("result=-1")  # what a missing file looks like through panoramisk
            return {"result": (str(ord(key)) if key else "0", "endpos=100")}
        if command.startswith("WAIT FOR DIGIT "):
            self.wait_timeouts.append(int(command.split()[-1]))
            key = self.waits.pop(0) if self.waits else None
            if key == "HANGUP":
                raise AgiHangup("HANGUP")
            return {"result": (str(ord(key)) if key else "0", "")}
        if command == "CHANNEL STATUS":
            return {"result": ("6", "")}
        raise AssertionError(f"unexpected AGI command {command!r}")


class FakeTickets:
    def __init__(self, repeat: bool | Exception = False) -> None:
        self.paths: dict[str, dict] = {}
        self.repeat = repeat

    async def record_ivr(self, uniqueid: str, path: dict) -> None:
        self.paths[uniqueid] = path

    async def called_since(self, number: str, since: dt.datetime, exclude_uniqueid: str = "") -> bool:
        if isinstance(self.repeat, Exception):
            raise self.repeat
        return self.repeat


class FakeRules:
    async def current(self):
        return RULES


def make_flow(moment=JULY, tickets=None, missing=(), **settings) -> tuple[IvrFlow, FakeTickets]:
    tickets = tickets or FakeTickets()
    flow = IvrFlow(
        IvrSettings(**{"menu_timeout": 2.0, "menu_attempts": 3, **settings}),
        FakeRules(),  # type: ignore[arg-type]
        tickets,  # type: ignore[arg-type]
        zone=HospitalSettings().zone,
        languages=("zh", "en"),
        available=lambda language, name: f"{language}/{name}" not in missing,
        sounds_dir="/snd",
        clock=lambda: moment,
    )
    return flow, tickets


INTRO = ["zh/greeting", "zh/for_english", "zh/recording_notice"]


async def test_july_call_plays_heatstroke_and_routes_by_menu_key():
    flow, tickets = make_flow()
    agi = FakeAgi({"menu": ["3"]})
    route = await flow.run(agi, "c1", "13800138000")
    assert route == Route("guidance", 0, "guidance")
    assert agi.played == [*INTRO, "zh/heatstroke", "zh/menu", "zh/connecting"]
    assert agi.variables["CHANNEL(language)"] == "zh"
    path = tickets.paths["c1"]
    assert path["outcome"] == "routed" and path["seasonal"] == ["heatstroke"]
    assert path["menu"] | {} == {**path["menu"], "choice": "guidance", "skill": "guidance", "readings": 1}
    assert path["schedule_time"].startswith("2025-07-15T10:00:00+08:00")
    heat = path["messages"][3]
    assert heat == {**heat, "prompt": "heatstroke", "outcome": "played", "seasonal": True}


async def test_january_night_plays_night_then_flu():
    flow, tickets = make_flow(JAN_NIGHT)
    agi = FakeAgi({"menu": ["0"]})
    assert await flow.run(agi, "c1", "") == ANY_OPERATOR
    assert agi.played[3:5] == ["zh/night", "zh/flu"]
    assert tickets.paths["c1"]["seasonal"] == ["night", "flu"]


async def test_a_key_skips_a_message_and_only_that_one():
    flow, tickets = make_flow(JAN_NIGHT)
    agi = FakeAgi({"night": ["9"], "menu": ["4"]})
    assert await flow.run(agi, "c1", "") == Route("urgent", 10, "urgent")
    assert agi.played[3:] == ["zh/night", "zh/flu", "zh/menu", "zh/urgent"]
    night, flu = tickets.paths["c1"]["messages"][3:5]
    assert (night["outcome"], night["key"]) == ("skipped", "9")
    assert flu["outcome"] == "played"
    assert tickets.paths["c1"]["keys"] == ["9", "4"]


async def test_star_switches_to_english_and_repeats_the_message():
    flow, tickets = make_flow()
    agi = FakeAgi({"greeting": ["*"], "menu": ["1"]})
    assert (await flow.run(agi, "c1", "")).skill == "registration"
    assert agi.played == [
        "zh/greeting", "en/greeting", "en/for_chinese", "en/recording_notice", "en/heatstroke", "en/menu", "en/connecting",
    ]
    assert agi.variables["CHANNEL(language)"] == "en"
    assert tickets.paths["c1"]["language"] == "en"


async def test_star_in_the_menu_rereads_it_in_the_other_language_without_using_an_attempt():
    flow, _ = make_flow(menu_attempts=1)
    agi = FakeAgi({"menu": ["*", "5"]})
    assert (await flow.run(agi, "c1", "")).skill == "complaints"
    assert agi.played[-3:] == ["zh/menu", "en/menu", "en/connecting"]


async def test_no_input_and_wrong_keys_reprompt_then_any_operator():
    flow, tickets = make_flow(menu_attempts=3)
    agi = FakeAgi({"menu": [None, "7", None]}, waits=[None, None])
    assert await flow.run(agi, "c1", "") == ANY_OPERATOR
    assert agi.played[4:] == [
        "zh/menu", "zh/menu_no_input", "zh/menu", "zh/menu_invalid", "zh/menu", "zh/to_operator",
    ]
    assert agi.wait_timeouts == [2000, 2000]
    menu = tickets.paths["c1"]["menu"]
    assert (menu["readings"], menu["no_input"], menu["invalid"], menu["gave_up"]) == (3, 2, 1, True)
    assert menu["skill"] is None


async def test_a_key_during_a_notice_counts_as_the_choice():
    flow, _ = make_flow()
    agi = FakeAgi({"menu": ["8"], "menu_invalid": ["2"]})
    assert (await flow.run(agi, "c1", "")).skill == "reports"
    assert agi.played[-3:] == ["zh/menu", "zh/menu_invalid", "zh/connecting"]


@pytest.mark.parametrize("garbage", ["#", "*", "9", "6"])
async def test_garbage_keys_forever_still_reach_an_operator(garbage):
    flow, tickets = make_flow()
    agi = FakeAgi({name: [garbage] * 20 for name in ("greeting", "for_english", "for_chinese", "recording_notice",
                                                    "heatstroke", "menu", "menu_invalid")})
    assert await flow.run(agi, "c1", "") == ANY_OPERATOR
    assert len(agi.played) < 40
    assert tickets.paths["c1"]["outcome"] == "routed"


async def test_repeat_caller_skips_the_seasonal_messages():
    flow, tickets = make_flow(tickets=FakeTickets(repeat=True))
    agi = FakeAgi({"menu": ["0"]})
    await flow.run(agi, "c1", "13800138000")
    assert "zh/heatstroke" not in agi.played
    assert tickets.paths["c1"]["seasonal_skipped"] == "repeat_caller"


async def test_a_failing_repeat_check_plays_the_messages():
    flow, _ = make_flow(tickets=FakeTickets(repeat=OSError("database is locked")))
    agi = FakeAgi({"menu": ["0"]})
    await flow.run(agi, "c1", "13800138000")
    assert "zh/heatstroke" in agi.played


async def test_missing_or_unplayable_prompts_are_skipped_not_fatal():
    flow, tickets = make_flow(missing={"zh/heatstroke"})
    agi = FakeAgi({"greeting": ["FAIL"], "menu": ["1"]})
    assert (await flow.run(agi, "c1", "")).skill == "registration"
    outcomes = {m["prompt"]: m["outcome"] for m in tickets.paths["c1"]["messages"]}
    assert outcomes["greeting"] == "failed" and outcomes["heatstroke"] == "missing"


async def test_hangup_in_the_menu_is_recorded_and_raised():
    flow, tickets = make_flow()
    agi = FakeAgi({"menu": ["HANGUP"]})
    with pytest.raises(AgiHangup):
        await flow.run(agi, "c1", "")
    path = tickets.paths["c1"]
    assert path["outcome"] == "hangup" and path["messages"][-1]["prompt"] == "menu"
    assert "choice" not in path["menu"]


async def test_an_unexpected_error_routes_to_any_operator():
    flow, tickets = make_flow()

    class Broken(FakeAgi):
        async def set_variable(self, name, value):
            raise AgiCommandError("520 usage")

    assert await flow.run(Broken(), "c1", "") == ANY_OPERATOR
    assert tickets.paths["c1"]["outcome"] == "error"


async def test_no_seasonal_messages_when_switched_off():
    flow, _ = make_flow(max_seasonal=0)
    agi = FakeAgi({"menu": ["0"]})
    await flow.run(agi, "c1", "")
    assert agi.played[:4] == [*INTRO, "zh/menu"]
