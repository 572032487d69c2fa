"""Demo and test phones, kept out of the engine: the baresip softphone and the embedded default's demo phones.

``softphone`` drives a baresip SIP phone over ctrl_tcp (demo phones, tests, benchmarks);
``phones`` starts the demo phones and demo accounts of ``callcenter up``.  Nothing in the engine
imports this package except the CLI's ``up`` command.
"""
