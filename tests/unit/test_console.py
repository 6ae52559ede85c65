"""What `make run` prints for a person: one short line per request, the JSON only on request."""

import io
import json

from local.console import ConsoleLog, human_line

ACCESS = {
    "level": "INFO",
    "message": "request",
    "route": "POST /v1/chat/completions",
    "status": 200,
    "outcome": "ok",
    "model": "modelgate-local",
    "latency_ms": 3.14159,
    "total_tokens": 16,
    "charged_tokens": 16,
    "caller": "ip_1a2b3c4d5e6f",
    "error_code": None,
}
EMF = {"_aws": {"CloudWatchMetrics": []}, "Requests": [1.0]}
WARNING = {"level": "WARNING", "message": "store error", "store_error": "throttled"}


def printed(lines, json_logs=False):
    out = io.StringIO()
    console = ConsoleLog(out, json_logs=json_logs)
    for line in lines:
        text = json.dumps(line) if isinstance(line, dict) else line
        console.write(text[:10])  # written in pieces, as print() and logging may
        console.write(text[10:] + "\n")
    return out.getvalue().splitlines()


def test_one_short_line_per_request_with_what_a_person_scans_for():
    line = human_line(ACCESS)
    assert (
        line.split(" ", 1)[1]
        == "POST /v1/chat/completions 200 ip_1a2b3c4d5e6f modelgate-local 16 tok charged 3.1 ms"
    )
    refused = human_line(
        {**ACCESS, "status": 400, "error_code": "invalid_request", "temperature_clamped": "0->0.1"}
    )
    assert refused.endswith(
        "400 ip_1a2b3c4d5e6f modelgate-local 16 tok charged 3.1 ms invalid_request temperature 0->0.1"
    )


def test_access_lines_are_rewritten_metrics_dropped_and_the_rest_passed_through():
    shown = printed([ACCESS, EMF, WARNING, "modelgate: serving http://127.0.0.1:3000"])
    assert len(shown) == 3
    assert shown[0].endswith("16 tok charged 3.1 ms") and not shown[0].startswith("{")
    assert json.loads(shown[1]) == WARNING  # warnings and errors keep every detail
    assert shown[2] == "modelgate: serving http://127.0.0.1:3000"


def test_the_flag_shows_the_json_lines_as_lambda_writes_them():
    shown = printed([ACCESS, EMF], json_logs=True)
    assert [json.loads(line) for line in shown] == [ACCESS, EMF]


def test_a_cache_hit_and_batch_lines_say_so():
    assert human_line({**ACCESS, "cache": "hit", "batch": "b1", "batch_item": 0}).endswith(
        "cache hit batch item 0"
    )
    assert human_line({**ACCESS, "cache": "miss"}).endswith("3.1 ms")
    assert human_line({**ACCESS, "batch": "b1", "batch_items": 3}).endswith("batch of 3")


def test_a_stream_the_caller_left_shows_what_it_was_charged():
    from local.console import human_line

    line = human_line(
        {
            "route": "POST /v1/chat/completions",
            "status": 200,
            "total_tokens": 0,
            "charged_tokens": 45,
            "stream": {"disconnected": True, "chunks": 3},
        }
    )
    assert "45 tok charged (reply 0)" in line and "the caller left" in line


def test_the_tokens_charged_are_shown_with_the_reply_s_figure_beside_them_when_they_differ():
    # Given a reply that says 4 tokens, charged 3 (its reservation), and a cache hit, charged nothing
    capped = human_line({**ACCESS, "total_tokens": 4, "charged_tokens": 3})
    hit = human_line({**ACCESS, "cache": "hit", "charged_tokens": 0})
    # Then each line shows the charge first, and the reply's figure beside it
    assert " 3 tok charged (reply 4) 3.1 ms" in capped
    assert " 0 tok charged (reply 16) 3.1 ms" in hit and hit.endswith("cache hit")
