"""The hotline's IVR: greeting, recording notice, seasonal messages and the menu, before the ACD.

``schedule`` (pure) picks the seasonal messages for a moment; ``rules`` keeps the schedule in the
database (imported from ``prompts/schedule.toml``) and serves it with immediate effect;
``prompts`` holds the prompt texts and builds their audio; ``flow`` plays it all over FastAGI and
returns the caller's route (skill, priority) and path; ``http`` is the supervisors' rules API.
"""
