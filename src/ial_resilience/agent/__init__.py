"""The agent: the local daemon that owns every fault (links, processes, resource stress).

:mod:`ial_resilience.agent.link` is the link runtime, a TCP fault proxy with toxic stages.
"""
