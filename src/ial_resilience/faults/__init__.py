"""Faults: the provider-neutral vocabulary and the local injectors."""
