"""The OpenAI-compatible API of a routing daemon (model.routes = "en=tiny.en,*=base") on the real models:
``language`` and ``model`` fields, /v1/audio/translations, /v1/models; and what a tiny.en-only daemon says
to the same requests. Skipped with the reason when Whisper base is not installed."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from edge_asr.evaluate import looks_english

pytestmark = pytest.mark.timeout(600)

HTTP_TIMEOUT = 300.0  # s: the first request may wait for a loaded machine


def _post(url: str, endpoint: str, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(f"{url}/v1/audio/{endpoint}", files={"file": (path.name, f)}, data=fields,
                          timeout=HTTP_TIMEOUT)


@pytest.fixture(scope="module")
def base_installed() -> None:
    from edge_asr.export.registry import resolve

    src = resolve("base")
    if src.path is None:
        pytest.skip(f"Whisper base is not installed ({src.install_hint}); tests/run.sh installs it")


@pytest.fixture
def routed(base_installed, start_daemon, daemon_env):
    # the test session's model cache, so base is built once for all tests
    env = daemon_env(EDGE_ASR_CACHE_DIR=os.environ["EDGE_ASR_CACHE_DIR"])
    return start_daemon("--set", "model.routes=en=tiny.en,*=base", "--threads", "2", env=env)


def test_routing_daemon_honours_language_model_and_translates(routed, shared, jfk_path) -> None:
    url = routed.url
    models = httpx.get(f"{url}/v1/models").json()["data"]
    loaded = [m["id"] for m in models if m["loaded"]]
    assert loaded == ["tiny.en", "base"] and all(m["object"] == "model" for m in models)
    assert {m["id"]: m["languages"] for m in models}["base"] == 99

    german = shared("speech", "multilingual-dev", "de_test_de.wav")
    r = _post(url, "transcriptions", german, response_format="verbose_json")
    assert r.status_code == 200, r.text
    assert r.json()["language"] == "german" and "Portal" in r.json()["text"]
    r = _post(url, "transcriptions", jfk_path, model="whisper-1")  # OpenAI's default name: the daemon routes
    assert "your country" in r.json()["text"]
    r = _post(url, "transcriptions", jfk_path, model="base", language="en")
    assert r.status_code == 200 and "country" in r.json()["text"].lower()
    r = _post(url, "transcriptions", german, model="tiny.en", language="de")
    assert r.status_code == 400 and "English-only" in r.json()["error"]["message"]
    r = _post(url, "transcriptions", jfk_path, model="large-v3")
    assert r.status_code == 400 and "not loaded here; loaded: tiny.en, base" in r.json()["error"]["message"]

    r = _post(url, "translations", german)
    assert r.status_code == 200, r.text
    assert looks_english(r.json()["text"]) and "Portal" not in r.json()["text"], r.json()
    r = _post(url, "translations", jfk_path, response_format="verbose_json")  # English stays English
    assert r.json()["task"] == "translate" and "your country" in r.json()["text"]

    openai = pytest.importorskip("openai", reason="the OpenAI client (a test extra) is not installed")
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused-on-loopback", max_retries=0)
    spanish = shared("speech", "multilingual-dev", "es_test_es.wav")
    with spanish.open("rb") as f:
        assert looks_english(client.audio.translations.create(model="whisper-1", file=f).text)
    with spanish.open("rb") as f:
        assert "arenas" in client.audio.transcriptions.create(model="whisper-1", file=f, language="es").text.lower()


def test_english_only_daemon_refuses_translation_and_other_models(shared_daemon, jfk_path) -> None:
    url = shared_daemon.url
    r = _post(url, "translations", jfk_path)
    assert r.status_code == 400 and "cannot translate" in r.json()["error"]["message"]
    assert "model.routes" in r.json()["error"]["message"]
    r = _post(url, "transcriptions", jfk_path, model="base")
    assert r.status_code == 400 and "not loaded here; loaded: tiny.en" in r.json()["error"]["message"]
    r = _post(url, "transcriptions", jfk_path, model="tiny.en")
    assert r.status_code == 200 and "your country" in r.json()["text"]
    models = httpx.get(f"{url}/v1/models").json()["data"]
    assert models[0]["id"] == "tiny.en" and models[0]["loaded"] and not any(m["loaded"] for m in models[1:])
