"""Provider key in Secrets Manager / SSM, and the rotation function's steps, on moto."""

import io
import json
import time

import boto3
import pytest
import requests
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from lib import services
from lib.admin import provider_key
from lib.rotation import steps as rotation
from lib.rotation.errors import RotationError
from lib.rotation.issuers import KeyPoolIssuer, OpenAIServiceAccountIssuer
from lib.rotation.key_check import key_tester
from lib.rotation.steps import Rotation
from lib.rotation.stores import SsmParameterStore
from tests.conftest import call
from tests.support.fake_upstream import Behaviour, FakeUpstream

SECRET = "modelgate/provider-key"
KEY_A, KEY_B, KEY_C = (
    "sk-aaaa-first-key-000000000000",
    "sk-bbbb-second-key-00000000000",
    "sk-cccc-third-key-000000000000",
)


@pytest.fixture
def secrets(gateway_env):
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(
            Name=SECRET, SecretString=json.dumps({"api_key": KEY_A, "spare_keys": [KEY_B, KEY_C]})
        )
        yield client


def start_rotation(client, token="00000000-0000-4000-8000-000000000001"):
    """What Secrets Manager does before it invokes the rotation function (moto cannot invoke it without
    Docker): rotation enabled, and a version for the token staged AWSPENDING, with no value yet."""
    secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].secrets[SECRET]
    secret.rotation_requested = secret.rotation_enabled = True
    secret.versions[token] = {
        "createdate": int(time.time()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    return token


def current(client):
    return json.loads(client.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"])


def stages(client):
    return client.describe_secret(SecretId=SECRET)["VersionIdsToStages"]


def make_rotation(client, upstream, issuer=None):
    return Rotation(
        SECRET,
        "secretsmanager",
        client,
        lambda: issuer or KeyPoolIssuer(),
        key_tester(upstream.base_url, requests.Session(), 2),
    )


def step(name, rotation_, token="00000000-0000-4000-8000-000000000001", secret_id=SECRET):
    return rotation.handle({"SecretId": secret_id, "ClientRequestToken": token, "Step": name}, rotation_)


class TestFourSteps:
    def test_a_full_rotation_promotes_the_next_pooled_key(self, secrets, upstream):
        token = start_rotation(secrets)
        rotating = make_rotation(secrets, upstream)
        for name in rotation.STEPS:
            step(name, rotating, token)
        value = current(secrets)
        assert (
            value["api_key"] == KEY_B
            and value["previous_api_key"] == KEY_A
            and value["spare_keys"] == [KEY_C]
        )
        assert stages(secrets)[token] == ["AWSCURRENT"]
        assert not any("AWSPENDING" in labels for labels in stages(secrets).values())
        assert ["AWSPREVIOUS"] in stages(secrets).values()
        assert upstream.received[-1].path == "/v1/models"  # testSecret spends no tokens
        assert upstream.received[-1].headers["Authorization"] == f"Bearer {KEY_B}"

    def test_every_step_twice_is_the_same_as_once(self, secrets, upstream):
        token = start_rotation(secrets)
        rotating = make_rotation(secrets, upstream)
        for name in rotation.STEPS:
            step(name, rotating, token)
            step(name, rotating, token)
        value = current(secrets)
        assert value["api_key"] == KEY_B and value["spare_keys"] == [KEY_C]

    def test_a_second_rotation_retires_the_key_from_two_rotations_back(self, secrets, upstream):
        for token in ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"):
            start_rotation(secrets, token)
            for name in rotation.STEPS:
                step(name, make_rotation(secrets, upstream), token)
        value = current(secrets)
        assert (value["api_key"], value["previous_api_key"], value["retired_api_key"]) == (
            KEY_C,
            KEY_B,
            KEY_A,
        )

    def test_a_failing_test_step_leaves_the_old_key_current(self, secrets, upstream):
        upstream.valid_keys = {KEY_A}  # the provider does not know the spare key
        token = start_rotation(secrets)
        rotating = make_rotation(secrets, upstream)
        step("createSecret", rotating, token)
        step("setSecret", rotating, token)
        with pytest.raises(RotationError) as error:
            step("testSecret", rotating, token)
        assert "did not work" in str(error.value) and KEY_B not in str(error.value)
        assert current(secrets)["api_key"] == KEY_A

    def test_an_empty_pool_fails_the_rotation_and_changes_nothing(self, secrets, upstream):
        secrets.put_secret_value(
            SecretId=SECRET, SecretString=json.dumps({"api_key": KEY_A, "spare_keys": []})
        )
        token = start_rotation(secrets)
        with pytest.raises(RotationError, match="pool is empty"):
            step("createSecret", make_rotation(secrets, upstream), token)
        assert current(secrets)["api_key"] == KEY_A


class TestGuards:
    def test_another_secret_is_refused(self, secrets, upstream):
        secrets.create_secret(Name="someone-else", SecretString="x")
        with pytest.raises(RotationError, match="rotates modelgate/provider-key"):
            step("createSecret", make_rotation(secrets, upstream), secret_id="someone-else")

    def test_an_unknown_step_is_refused(self, secrets, upstream):
        with pytest.raises(RotationError, match="unknown step"):
            step("shuffleSecret", make_rotation(secrets, upstream), start_rotation(secrets))

    def test_a_missing_token_is_refused(self, secrets, upstream):
        with pytest.raises(RotationError, match="ClientRequestToken"):
            rotation.handle({"SecretId": SECRET, "Step": "createSecret"}, make_rotation(secrets, upstream))

    def test_rotation_must_be_enabled(self, secrets, upstream):
        with pytest.raises(RotationError, match="not enabled"):
            step("createSecret", make_rotation(secrets, upstream), "00000000-0000-4000-8000-000000000009")

    def test_a_token_that_is_not_staged_is_refused(self, secrets, upstream):
        start_rotation(secrets)
        with pytest.raises(RotationError, match="not staged"):
            step("createSecret", make_rotation(secrets, upstream), "00000000-0000-4000-8000-000000000007")

    def test_an_unknown_event_is_refused(self, secrets, upstream):
        with pytest.raises(RotationError, match="unknown event"):
            rotation.handle({"hello": "world"}, make_rotation(secrets, upstream))


class TestOpenAIIssuer:
    @pytest.fixture
    def admin_api(self):
        server = FakeUpstream().start()
        yield server
        server.stop()

    def test_mints_a_service_account_key_and_revokes_the_retired_account(self, secrets, upstream, admin_api):
        secrets.put_secret_value(
            SecretId=SECRET,
            SecretString=json.dumps(
                {"api_key": KEY_A, "service_account_id": "svc_1", "previous_service_account_id": "svc_0"}
            ),
        )
        admin_api.then(
            Behaviour(
                body={
                    "id": "svc_2",
                    "object": "organization.project.service_account",
                    "api_key": {"value": KEY_B, "id": "key_2"},
                }
            ),
            Behaviour(404, {"error": {}}),
        )  # deleting svc_0 again later: already gone is fine
        issuer = OpenAIServiceAccountIssuer(
            requests.Session(), admin_api.base_url, "proj_x", "sk-admin-key-000000000"
        )
        token = start_rotation(secrets)
        for name in rotation.STEPS:
            step(name, make_rotation(secrets, upstream, issuer), token)
        value = current(secrets)
        assert value["api_key"] == KEY_B and value["service_account_id"] == "svc_2"
        assert value["previous_service_account_id"] == "svc_1"
        create, delete = admin_api.received
        assert (create.method, create.path) == ("POST", "/v1/organization/projects/proj_x/service_accounts")
        assert create.headers["Authorization"] == "Bearer sk-admin-key-000000000"
        assert (delete.method, delete.path) == (
            "DELETE",
            "/v1/organization/projects/proj_x/service_accounts/svc_0",
        )

    def test_a_failing_admin_api_fails_the_rotation_and_changes_nothing(self, secrets, upstream, admin_api):
        admin_api.then(Behaviour(500, {"error": {}}))
        issuer = OpenAIServiceAccountIssuer(
            requests.Session(), admin_api.base_url, "proj_x", "sk-admin-key-000000000"
        )
        with pytest.raises(RotationError, match="HTTP 500"):
            step("createSecret", make_rotation(secrets, upstream, issuer), start_rotation(secrets))
        assert current(secrets)["api_key"] == KEY_A

    def test_missing_issuer_configuration_is_a_clear_error(self, gateway_env):
        gateway_env.setenv("AI_MODEL_SECRET_ID", SECRET)
        gateway_env.setenv("ROTATION_KEY_ISSUER", "openai")
        with pytest.raises(RotationError, match="OPENAI_PROJECT_ID"):
            services.build_rotation()


class TestGatewayReadsTheSecret:
    @pytest.fixture
    def secret_env(self, secrets, gateway_env):
        gateway_env.delenv("AI_MODEL_API_KEY")
        gateway_env.setenv("AI_MODEL_SECRET_ID", SECRET)
        services.reset()
        return gateway_env

    def test_the_key_comes_from_the_secret_and_a_warm_request_makes_no_secret_call(
        self, secret_env, secrets, upstream, monkeypatch
    ):
        made = []
        build = services._aws_client

        def counted(service):
            client = build(service)
            client.meta.events.register("before-call", lambda model, **_: made.append(model.name))
            return client

        monkeypatch.setattr(services, "_aws_client", counted)
        services.reset()
        for _ in range(3):
            assert call("POST", "/api/generate", {"prompt": "p"}).status == 200
        assert made == ["GetSecretValue"]
        assert {r.headers["Authorization"] for r in upstream.received} == {f"Bearer {KEY_A}"}

    def test_a_plain_string_secret_works(self, secret_env, secrets, upstream):
        secrets.put_secret_value(SecretId=SECRET, SecretString=KEY_C)
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200
        assert upstream.received[0].headers["Authorization"] == f"Bearer {KEY_C}"

    def test_a_request_during_rotation_succeeds_and_the_new_key_is_picked_up(
        self, secret_env, secrets, upstream
    ):
        upstream.valid_keys = {KEY_A, KEY_B}  # the grace period: both keys valid
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200  # warm, KEY_A cached
        token = start_rotation(secrets)
        rotating = make_rotation(secrets, upstream)
        step("createSecret", rotating, token)
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200  # mid-rotation, old key
        for name in ("setSecret", "testSecret", "finishSecret"):
            step(name, rotating, token)
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200  # still cached: still valid
        upstream.valid_keys = {KEY_B}  # the old key is revoked before the cache expired
        upstream.received.clear()
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200  # 401 -> re-read -> new key
        assert [r.headers["Authorization"] for r in upstream.received] == [
            f"Bearer {KEY_A}",
            f"Bearer {KEY_B}",
        ]
        upstream.received.clear()
        call("POST", "/api/generate", {"prompt": "p"})
        assert upstream.received[0].headers["Authorization"] == f"Bearer {KEY_B}"

    def test_the_new_key_is_used_once_the_cache_expires(self, secret_env, secrets, upstream):
        secret_env.setenv("AI_MODEL_SECRET_MAX_AGE_S", "0")
        services.reset()
        call("POST", "/api/generate", {"prompt": "p"})
        secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps({"api_key": KEY_B}))
        call("POST", "/api/generate", {"prompt": "p"})
        assert [r.headers["Authorization"] for r in upstream.received] == [
            f"Bearer {KEY_A}",
            f"Bearer {KEY_B}",
        ]

    @pytest.mark.parametrize(
        "value",
        ['{"api_key": "sk-leaky-value-0000', '{"key": "sk-leaky-value-0000000"}', '{"api_key": ""}', "   "],
    )
    def test_a_malformed_secret_is_a_clear_503_that_never_shows_the_value(
        self, secret_env, secrets, output, value
    ):
        secrets.put_secret_value(SecretId=SECRET, SecretString=value)
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and reply.error["code"] == "not_configured"
        assert "AI_MODEL_SECRET_ID" in reply.error["message"]
        assert "sk-leaky" not in reply.text and "sk-leaky" not in output.text()

    def test_store_unreachable_warm_keeps_serving_cold_answers_503(self, secret_env, secrets, upstream):
        secret_env.setenv("AI_MODEL_SECRET_MAX_AGE_S", "0")
        services.reset()
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200
        secret_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # Secrets Manager now unreachable
        services.get_services().upstream._key_source._provider.client = boto3.client(
            "secretsmanager", region_name="us-east-1", endpoint_url="http://127.0.0.1:9"
        )
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200  # the warm container's key
        services.reset()  # a cold container
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and "could not be read from AI_MODEL_SECRET_ID" in reply.error["message"]


class TestSsm:
    PARAMETER = "/modelgate/provider-key"

    @pytest.fixture
    def ssm(self, gateway_env):
        with mock_aws():
            client = boto3.client("ssm", region_name="us-east-1")
            client.put_parameter(
                Name=self.PARAMETER,
                Type="SecureString",
                Value=json.dumps({"api_key": KEY_A, "spare_keys": [KEY_B]}),
            )
            yield client

    def value(self, ssm):
        return json.loads(ssm.get_parameter(Name=self.PARAMETER, WithDecryption=True)["Parameter"]["Value"])

    def rotation(self, ssm, upstream):
        return Rotation(
            self.PARAMETER, "ssm", ssm, KeyPoolIssuer, key_tester(upstream.base_url, requests.Session(), 2)
        )

    def test_a_scheduled_rotation_runs_the_same_four_steps(self, ssm, upstream):
        assert rotation.handle({"action": "rotate"}, self.rotation(ssm, upstream)) == {
            "step": "all",
            "result": "done",
        }
        value = self.value(ssm)
        assert value["api_key"] == KEY_B and value["previous_api_key"] == KEY_A
        assert ssm.describe_parameters()["Parameters"][0]["Name"] == self.PARAMETER  # no pending left over

    def test_a_failed_test_leaves_the_parameter_alone(self, ssm, upstream):
        upstream.valid_keys = {KEY_A}
        with pytest.raises(RotationError):
            rotation.handle({"action": "rotate"}, self.rotation(ssm, upstream))
        assert self.value(ssm)["api_key"] == KEY_A
        assert len(ssm.describe_parameters()["Parameters"]) == 1

    def with_two_spares(self, ssm):
        ssm.put_parameter(
            Name=self.PARAMETER,
            Type="SecureString",
            Overwrite=True,
            Value=json.dumps({"api_key": KEY_A, "spare_keys": [KEY_B, KEY_C]}),
        )

    def test_a_retry_after_a_crash_that_left_the_pending_value_does_not_rotate_again(
        self, ssm, upstream, monkeypatch
    ):
        # Given a rotation that crashed after writing the new current key, before its clean-up
        self.with_two_spares(ssm)
        original = SsmParameterStore.discard_pending
        monkeypatch.setattr(
            SsmParameterStore,
            "discard_pending",
            lambda store, token: (_ for _ in ()).throw(TimeoutError),
        )
        with pytest.raises(TimeoutError):
            rotation.handle({"action": "rotate"}, self.rotation(ssm, upstream), request_id="first-invocation")
        monkeypatch.setattr(SsmParameterStore, "discard_pending", original)
        assert self.value(ssm)["api_key"] == KEY_B
        # When it is run again (even as another invocation)
        result = rotation.handle({"action": "rotate"}, self.rotation(ssm, upstream), request_id="second")
        # Then it finishes the first rotation instead of starting another
        assert result["result"] == "already current"
        value = self.value(ssm)
        assert value["api_key"] == KEY_B and value["previous_api_key"] == KEY_A
        assert value["spare_keys"] == [KEY_C]
        assert len(ssm.describe_parameters()["Parameters"]) == 1

    def test_a_retried_invocation_that_crashed_while_revoking_does_not_rotate_again(
        self, ssm, upstream, monkeypatch
    ):
        # Given a rotation that crashed after it made the new key current and cleaned up
        self.with_two_spares(ssm)
        monkeypatch.setattr(
            KeyPoolIssuer, "revoke", lambda issuer, promoted: (_ for _ in ()).throw(TimeoutError)
        )
        with pytest.raises(TimeoutError):
            rotation.handle({"action": "rotate"}, self.rotation(ssm, upstream), request_id="invocation-1")
        monkeypatch.undo()
        # When Lambda retries the same invocation (same request id)
        result = rotation.handle(
            {"action": "rotate"}, self.rotation(ssm, upstream), request_id="invocation-1"
        )
        # Then the key stays the one that rotation made current
        assert result["result"] == "already current"
        value = self.value(ssm)
        assert value["api_key"] == KEY_B and value["spare_keys"] == [KEY_C]

    def test_a_rotation_that_stopped_before_finishing_is_resumed_with_its_pending_key(self, ssm, upstream):
        self.with_two_spares(ssm)
        store = SsmParameterStore(ssm, self.PARAMETER)
        rotation.create_secret(store, "stopped-run", KeyPoolIssuer())  # then the function was killed
        assert rotation.handle({"action": "rotate"}, self.rotation(ssm, upstream))["result"] == "done"
        value = self.value(ssm)
        assert value["api_key"] == KEY_B and value["spare_keys"] == [KEY_C]
        assert value["rotation_token"] == "stopped-run"

    def test_the_gateway_reads_the_key_from_ssm(self, ssm, gateway_env, upstream):
        gateway_env.delenv("AI_MODEL_API_KEY")
        gateway_env.setenv("AI_MODEL_SECRET_ID", self.PARAMETER)
        gateway_env.setenv("AI_MODEL_KEY_STORE", "ssm")
        services.reset()
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200
        assert upstream.received[0].headers["Authorization"] == f"Bearer {KEY_A}"

    def test_a_secrets_manager_event_is_refused_by_an_ssm_function(self, ssm, upstream):
        with pytest.raises(RotationError, match="set up for SSM"):
            step("createSecret", self.rotation(ssm, upstream))


@pytest.mark.usefixtures("gateway_env")  # placeholder credentials: signing must not look for real ones
class TestAdminCommands:
    """`make set-key`, `make add-spare-key` and `make rotate`, against moto (and a stubbed Lambda)."""

    def outputs(self, store, key_id):
        return {"KeyStore": store, "ProviderKeyId": key_id, "RotationFunctionName": "modelgate-rotation"}

    def test_set_key_keeps_the_spares_and_never_prints_the_key(self, secrets):
        out = io.StringIO()
        assert (
            provider_key.set_provider_key(
                self.outputs("secretsmanager", SECRET), lambda _: secrets, KEY_C, False, out
            )
            == 0
        )
        assert current(secrets) == {"api_key": KEY_C, "spare_keys": [KEY_B, KEY_C]}
        assert KEY_C not in out.getvalue() and "sha256:" in out.getvalue()

    def test_add_spare_creates_an_ssm_parameter_when_missing(self, gateway_env):
        with mock_aws():
            ssm = boto3.client("ssm", region_name="us-east-1")
            outputs = self.outputs("ssm", "/modelgate/provider-key")
            provider_key.set_provider_key(outputs, lambda _: ssm, KEY_A, False, io.StringIO())
            provider_key.set_provider_key(outputs, lambda _: ssm, KEY_B, True, io.StringIO())
            stored = ssm.get_parameter(Name="/modelgate/provider-key", WithDecryption=True)["Parameter"]
            assert stored["Type"] == "SecureString"
            assert json.loads(stored["Value"]) == {"api_key": KEY_A, "spare_keys": [KEY_B]}

    def test_set_key_refuses_something_that_is_not_a_key(self, secrets, capsys):
        assert (
            provider_key.set_provider_key(
                self.outputs("secretsmanager", SECRET), lambda _: secrets, "a b", False, io.StringIO()
            )
            == 2
        )
        assert current(secrets)["api_key"] == KEY_A

    def test_rotate_invokes_the_function_for_ssm(self):
        lambda_client = boto3.client("lambda", region_name="us-east-1")
        with Stubber(lambda_client) as stub:
            stub.add_response(
                "invoke",
                {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(b"{}"), 2)},
                {"FunctionName": "modelgate-rotation", "Payload": b'{"action": "rotate"}'},
            )
            assert (
                provider_key.start_rotation(self.outputs("ssm", "/p"), lambda _: lambda_client, io.StringIO())
                == 0
            )

    def test_rotate_asks_secrets_manager_for_its_own_rotation(self):
        client = boto3.client("secretsmanager", region_name="us-east-1")
        with Stubber(client) as stub:
            stub.add_response(
                "rotate_secret",
                {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k", "Name": SECRET},
                {"SecretId": SECRET},
            )
            assert (
                provider_key.start_rotation(
                    self.outputs("secretsmanager", SECRET), lambda _: client, io.StringIO()
                )
                == 0
            )

    def test_a_failed_rotation_is_reported(self, capsys):
        lambda_client = boto3.client("lambda", region_name="us-east-1")
        with Stubber(lambda_client) as stub:
            payload = b'{"errorMessage": "testSecret: the new key did not work"}'
            stub.add_response(
                "invoke",
                {
                    "StatusCode": 200,
                    "FunctionError": "Unhandled",
                    "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
                },
            )
            assert (
                provider_key.start_rotation(self.outputs("ssm", "/p"), lambda _: lambda_client, io.StringIO())
                == 1
            )
        assert "did not work" in capsys.readouterr().err


class TestRotationHandler:
    """handler.rotation_handler as Lambda runs it: settings from the environment, one log line on failure."""

    @pytest.fixture
    def rotation_env(self, secrets, gateway_env, upstream):
        gateway_env.setenv("AI_MODEL_SECRET_ID", SECRET)
        gateway_env.delenv("AI_MODEL_API_KEY")
        return gateway_env

    def test_the_four_steps_through_the_entry_point(self, rotation_env, secrets):
        import handler
        from local.events import LambdaContext

        token = start_rotation(secrets)
        for name in rotation.STEPS:
            handler.rotation_handler(
                {"SecretId": SECRET, "ClientRequestToken": token, "Step": name},
                LambdaContext("modelgate-rotation"),
            )
        assert current(secrets)["api_key"] == KEY_B

    def test_a_refused_event_is_logged_once_and_raised(self, rotation_env, output):
        import handler
        from local.events import LambdaContext

        with pytest.raises(RotationError):
            handler.rotation_handler(
                {"SecretId": SECRET, "ClientRequestToken": "x" * 32, "Step": "dance"},
                LambdaContext("modelgate-rotation"),
            )
        failures = [line for line in output.lines() if line.get("level") == "ERROR"]
        assert len(failures) == 1 and "unknown step" in failures[0]["reason"]

    def test_missing_configuration_is_a_clear_failure(self, gateway_env, output):
        import handler
        from local.events import LambdaContext

        gateway_env.delenv("AI_MODEL_ENDPOINT")
        gateway_env.setenv("AI_MODEL_SECRET_ID", SECRET)
        with pytest.raises(RotationError, match="AI_MODEL_ENDPOINT"):
            handler.rotation_handler({"action": "rotate"}, LambdaContext("modelgate-rotation"))
