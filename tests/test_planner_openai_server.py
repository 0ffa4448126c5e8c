"""Any LangChain chat model can stand in for the built-in one: here a real OpenAI-compatible
server (llama-cpp-python's, on 127.0.0.1) driven through langchain-openai."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from langchain_openai import ChatOpenAI

from foreman.planner import QWEN_CODER_1_5B, LLMPlanner, PlanRequest, model_path, vocabulary_specs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path(QWEN_CODER_1_5B)),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_planner_works_through_langchain_openai(server_url):
    model = ChatOpenAI(base_url=server_url, api_key="not-needed", model="local", temperature=0, max_tokens=120)
    planner = LLMPlanner(model)  # no grammar: validation and retries keep the plan honest
    assert planner.grammar is False
    result = planner.plan(
        PlanRequest(goal="pick up the blue key, then open the yellow door", skills=vocabulary_specs())
    )
    assert [s.to_text() for s in result.plan] == ["pick up the blue key", "open the yellow door"], result.attempts
    assert result.prompt_tokens > 0  # usage came back over the wire


def test_foreman_plan_uses_the_server_from_the_command_line(server_url, capsys):
    import json

    from foreman.cli import main

    goal = "pick up the blue key, then open the yellow door"
    assert main(["plan", goal, "--planner", "openai", "--server", server_url, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["plan_text"] == "pick_up(the blue key)\nopen(the yellow door)" and record["prompt_tokens"] > 0
