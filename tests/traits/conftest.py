"""Fixtures for the trait-inference tests: the local OpenAI-compatible server and helpers."""

from __future__ import annotations

import pytest
from fake_llm_server import FakeLLMServer


@pytest.fixture
def llm_server():
    """Factory: ``llm_server(latency=..., faults=...)`` starts a server, stopped after the test."""
    started: list[FakeLLMServer] = []

    def start(**options) -> FakeLLMServer:
        server = FakeLLMServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
