"""The one chat client: the judge now retries like the corruption backend, and can cache."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from probllms_tui.core.errors import ProbLLMsError
from probllms_tui.core.mcq import MCQ
from probllms_train.bench.judge import EndpointJudge
from probllms_train.llm_client import LLMCache


@pytest.fixture
def flaky():
    """127.0.0.1 endpoint: answers the statuses queued in .statuses first, then "B"."""
    state = {"statuses": [], "posts": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            state["posts"] += 1
            status = state["statuses"].pop(0) if state["statuses"] else 200
            body = json.dumps({"choices": [{"message": {"content": "B"}}]} if status == 200 else {"error": "x"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()


JQ = MCQ("Which is better?", ("Answer 1 is better.", "Answer 2 is better.", "Both are equally good."))


def test_judge_retries_a_rate_limit_and_caches_verdicts(flaky, tmp_path):
    flaky["statuses"] = [429]
    cache = LLMCache(tmp_path / "judge.sqlite")
    judge = EndpointJudge(flaky["url"], "m", "NO_SUCH_ENV_VAR", cache=cache)
    assert judge.verdict(JQ)[0] == "B" and flaky["posts"] == 2  # the 429, then the answer
    assert judge.verdict(JQ)[0] == "B" and flaky["posts"] == 2 and cache.hits == 1  # from the cache
    judge.close()
    cache.close()


def test_judge_error_is_one_line_naming_the_endpoint(flaky):
    flaky["statuses"] = [400]
    judge = EndpointJudge(flaky["url"], "m", "NO_SUCH_ENV_VAR")
    with pytest.raises(ProbLLMsError, match=r"^judge endpoint at http://127\.0\.0\.1:\d+/v1/chat/completions answered HTTP 400"):
        judge.verdict(JQ)
    judge.close()
