"""Fitting scenarios to recorded sessions (issue 14): a provider-behaviour session generator
(`tests.fit.generate`) and the fidelity tests built on it."""
