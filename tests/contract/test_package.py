"""`make package`: the packaged template lints clean, every Lambda runs from the one zip, admin routes sit
behind the Cognito authorizer and the API function may reach what it uses."""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.api.blueprints import all_specs
from chalicelib.api.routing import RouteSpec
from chalicelib.jobs.template import load_template, read_wiring
from infra.package import (
    API_FUNCTION,
    AUTHORIZER,
    CHALICE_ROLE,
    REST_API,
    ZIP_NAME,
    Package,
    build,
    functions_of,
    handler_module_paths,
    lint,
)

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
SOURCE = load_template(ROOT / "template.yaml")
_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Package:
    """`make package`, once per session (chalice fetches the Lambda wheels from PyPI: 15-25 s)."""
    return build(tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="session")
def zip_names(packaged: Package) -> set[str]:
    with zipfile.ZipFile(packaged.zip_path) as archive:
        return set(archive.namelist())


def _swagger(packaged: Package) -> dict[str, Any]:
    body: dict[str, Any] = packaged.template["Resources"][REST_API]["Properties"]["DefinitionBody"]
    return body


def test_the_packaged_template_passes_cfn_lint(packaged: Package) -> None:
    assert packaged.lint.errors == ()
    # The file on disk is what was linted; it must parse as plain YAML (no aliases, no short-form tags).
    assert yaml.safe_load(packaged.template_path.read_text(encoding="utf-8")) == packaged.template


def test_lint_reports_errors(packaged: Package, tmp_path: Path) -> None:
    # Given the packaged template with an impossible memory size
    broken = json.loads(json.dumps(packaged.template))
    broken["Globals"]["Function"]["MemorySize"] = 1
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    # Then cfn-lint's error reaches the report, which fails `make package`
    assert any("E3034" in error for error in lint(path).errors)


def test_the_sam_transform_is_kept(packaged: Package) -> None:
    assert packaged.template["Transform"] == "AWS::Serverless-2016-10-31"


def test_every_function_runs_from_the_shared_zip(packaged: Package) -> None:
    functions = functions_of(packaged.template)
    assert API_FUNCTION in functions
    assert set(read_wiring(SOURCE).functions) < set(functions)
    assert {properties["CodeUri"] for properties in functions.values()} == {f"./{ZIP_NAME}"}
    assert (packaged.template_path.parent / ZIP_NAME).is_file()


def test_every_handler_imports_and_is_callable(packaged: Package) -> None:
    for logical_id, properties in functions_of(packaged.template).items():
        module, _, attribute = properties["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        assert callable(handler), logical_id


def test_every_handler_module_is_inside_the_zip(packaged: Package, zip_names: set[str]) -> None:
    for logical_id, properties in functions_of(packaged.template).items():
        assert set(handler_module_paths(properties["Handler"])) & zip_names, logical_id
    # The functions need chalicelib, which Chalice ships beside them.
    assert {"app.py", "chalicelib/__init__.py", "functions/__init__.py"} <= zip_names


def test_the_zip_holds_all_of_functions_and_the_template_read_at_runtime(
    packaged: Package, zip_names: set[str]
) -> None:
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "functions").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources <= zip_names
    with zipfile.ZipFile(packaged.zip_path) as archive:
        assert archive.read("template.yaml") == (ROOT / "template.yaml").read_bytes()


def test_the_wheels_suit_the_functions_architecture(packaged: Package, zip_names: set[str]) -> None:
    (architecture,) = packaged.template["Globals"]["Function"]["Architectures"]
    binaries = [name for name in zip_names if name.endswith("-linux-gnu.so")]
    assert binaries, "expected compiled wheels such as pydantic_core"
    assert all(f"-{_MACHINE[architecture]}-linux-gnu.so" in name for name in binaries), binaries


def test_the_api_function_takes_its_settings_from_the_globals(packaged: Package) -> None:
    properties = packaged.template["Resources"][API_FUNCTION]["Properties"]
    overriding = set(properties) & set(packaged.template["Globals"]["Function"]) - {"Environment"}
    assert overriding == set()
    # Chalice's stage variables would pin ABO_STAGE to "dev" even in production.
    assert "ABO_STAGE" not in properties.get("Environment", {}).get("Variables", {})


def test_the_api_function_may_use_every_table_bucket_and_consumed_queue(packaged: Package) -> None:
    resources = packaged.template["Resources"]
    properties = resources[API_FUNCTION]["Properties"]
    assert "Role" not in properties
    assert CHALICE_ROLE not in resources
    policies = properties["Policies"]
    tables = [lid for lid, r in SOURCE["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"]
    for table in tables:
        assert {"DynamoDBCrudPolicy": {"TableName": {"Ref": table}}} in policies
    buckets = [r for r in SOURCE["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    for bucket in buckets:
        assert {"S3CrudPolicy": {"BucketName": bucket["Properties"]["BucketName"]}} in policies
    queues = {consumer.queue_logical_id for consumer in read_wiring(SOURCE).queues}
    assert queues
    for queue in queues:
        name = {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}
        assert {"SQSPollerPolicy": name} in policies
        assert {"SQSSendMessagePolicy": name} in policies
    statements = [s for p in policies for s in p.get("Statement", [])]
    assert {
        "Effect": "Allow",
        "Action": ["sqs:GetQueueUrl"],
        "Resource": [{"Fn::GetAtt": [queue, "Arn"]} for queue in sorted(queues)],
    } in statements


def test_the_admin_authorizer_is_the_cognito_user_pool(packaged: Package) -> None:
    assert _swagger(packaged)["securityDefinitions"][AUTHORIZER] == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {
            "type": "cognito_user_pools",
            "providerARNs": [{"Fn::GetAtt": ["AdminUserPool", "Arn"]}],
        },
    }


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: f"{spec.method} {spec.path}")
def test_admin_routes_and_only_they_need_the_authorizer(packaged: Package, spec: RouteSpec) -> None:
    operation = _swagger(packaged)["paths"][spec.path][spec.method.lower()]
    if spec.auth == "admin":
        assert operation["security"] == [{AUTHORIZER: []}]
    else:
        assert "security" not in operation


def test_health_and_the_openapi_document_are_public(packaged: Package) -> None:
    paths = _swagger(packaged)["paths"]
    assert "security" not in paths["/health"]["get"]
    assert "security" not in paths["/openapi.json"]["get"]


@pytest.mark.parametrize(
    "response_type",
    ["DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN"],
)
def test_gateway_errors_are_problem_json(packaged: Package, response_type: str) -> None:
    response = _swagger(packaged)["x-amazon-apigateway-gateway-responses"][response_type]
    assert (
        response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    )
    # When API Gateway fills in its context variables
    rendered = (
        response["responseTemplates"]["application/json"]
        .replace("$context.error.messageString", json.dumps('Say "hi"'))
        .replace("$context.error.responseType", response_type)
    )
    # Then the body is an RFC 9457 problem
    problem = json.loads(rendered)
    assert problem["type"].startswith("https://")
    assert problem["title"]
    assert problem["detail"] == 'Say "hi"'
    if "statusCode" in response:
        assert problem["status"] == int(response["statusCode"])
