"""Reading the directory CSV (departments and escalation contacts): every problem by line and column."""

from __future__ import annotations

from callcenter.outbound.policy import Policy, classify
from callcenter.workorders.directory_csv import parse, weekdays

POLICY = Policy.build(internal=("2001",))
HEADER = "department,office_phone,contact_name,title,mobile,duty_weekdays,duty_times,rank\n"


def check(raw: str) -> tuple[str, str | None]:
    verdict = classify(raw, POLICY)
    return (verdict.number, None) if verdict.allowed else ("", f"{raw!r} is {verdict.problem}")


def test_departments_gather_their_contacts_with_phones_as_the_policy_dials_them():
    text = HEADER + ("呼吸科,2001,,,,,,\n"
                     "呼吸科,,王医生,主任医师,139-1234-5678,\"mon,tue,fri\",08:00-17:30,1\n"
                     "呼吸科,,李医生,,+86 13800000000,一、三、周日,22:00-08:00,\n"
                     "儿科,010-6402-8401,,,,,,\n")
    departments, problems = parse(text.encode("gb18030"), check)
    assert problems == []
    assert [(d.name, d.office_phone, len(d.contacts)) for d in departments] == [("呼吸科", "2001", 2),
                                                                                ("儿科", "64028401", 0)]
    wang, li = departments[0].contacts
    assert (wang.name, wang.title, wang.mobile, wang.rank) == ("王医生", "主任医师", "13912345678", 1)
    assert wang.duty == {"weekdays": ["mon", "tue", "fri"], "times": "08:00-17:30"}
    assert (li.mobile, li.rank, li.duty) == ("13800000000", 0, {"weekdays": ["mon", "wed", "sun"],
                                                                 "times": "22:00-08:00"})


def test_every_bad_row_is_reported_by_line_and_column():
    text = HEADER + ("呼吸科,120,,,,,,\n"                         # 2: an emergency number
                     ",,张医生,,13912345678,,,\n"                  # 3: no department
                     "儿科,,张医生,,12345,,,\n"                    # 4: not a mobile
                     "儿科,,张医生,,13912345678,mon;funday,,\n"    # 5: bad weekday
                     "儿科,,张医生,,13912345678,,25:00-08:00,\n"   # 6: bad window
                     "儿科,,张医生,,13912345678,,,x\n"             # 7: bad rank
                     f"{'科' * 65},,,,,,,\n"                       # 8: too long
                     "儿科,,张\x00医生,,13912345678,,,\n"          # 9: NUL
                     "儿科,,,,13912345678,,,\n"                    # 10: a contact without a name
                     "儿科,,赵医生,,13912345678,,,\n"              # 11: fine
                     "儿科,,钱医生,,139 1234 5678,,,\n"            # 12: the same phone again
                     "儿科,64028401,,,,,,\n"
                     "儿科,64028402,,,,,,\n")                      # 14: a second office phone
    _, problems = parse(text, check)
    assert [(p["line"], p["field"]) for p in problems] == [
        ("2", "office_phone"), ("3", "department"), ("4", "mobile"), ("5", "duty_weekdays"), ("6", "duty_times"),
        ("7", "rank"), ("8", "department"), ("9", "contact_name"), ("10", "contact_name"), ("12", "mobile"),
        ("14", "office_phone")]
    assert "emergency" in problems[0]["problem"] and "line 11" in problems[9]["problem"]


def test_a_file_without_the_department_column_or_not_csv_is_refused():
    assert parse("name,phone\nx,1\n", check)[1][0]["field"] == "department"
    assert parse(b"", check)[1][0]["field"] == "file"
    assert parse(b"\xff\xfe\x00\x00bad", check)[1][0]["field"] == "file"


def test_weekdays_in_either_language():
    assert weekdays("Sunday, mon") == (["mon", "sun"], None)
    assert weekdays("星期一/周五") == (["mon", "fri"], None)
    assert weekdays("") == ([], None)
    assert weekdays("mo")[1]
