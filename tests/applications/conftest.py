"""No test here reaches the network: downloads fail as they would offline."""

import urllib.error
import urllib.request

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("the network is blocked in cnnlab's tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv("CNNLAB_OFFLINE", raising=False)
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
