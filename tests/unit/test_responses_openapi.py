"""`make openapi` describes the Responses API's routes: the request body, the replies, streams."""

from lib.http.routes import OPENAPI_FILE


def test_the_document_describes_the_responses_routes():
    import json

    document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    create = document["paths"]["/v1/responses"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/ResponseCreateRequest")
    assert set(create["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert document["components"]["schemas"]["ResponseCreateRequest"]["required"] == ["input"]
    stored = document["paths"]["/v1/responses/{response_id}"]
    assert {"get", "delete", "head"} <= set(stored)
    assert "get" in document["paths"]["/v1/responses/{response_id}/input_items"]
