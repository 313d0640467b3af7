"""`make package`: the deployable template of the whole platform, in one directory.

``chalice package`` builds ``deployment.zip`` (app.py, chalicelib/, the requirements as Lambda wheels) and
deep-merges template.yaml into the generated SAM template. This module then adds ``functions/`` and
template.yaml to that zip, which every Lambda shares; lets template.yaml's Globals configure the API
function; grants it the tables, bucket and queues it reaches; puts API Gateway's Cognito authorizer on
every admin route; answers API Gateway's own errors as problem JSON; and lints the result with cfn-lint.

    python -m infra.package build/package

Works offline from AWS (dummy credentials); pip needs PyPI for the Lambda platform's wheels.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chalicelib.api.blueprints import all_specs
from chalicelib.api.routing import RouteSpec
from chalicelib.errors import AboError, ForbiddenError, NotFoundError, UnauthenticatedError
from chalicelib.jobs.template import load_template, read_wiring
from chalicelib.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_NAME = "sam.yaml"
ZIP_NAME = "deployment.zip"
API_FUNCTION = "APIHandler"
REST_API = "RestAPI"
CHALICE_ROLE = "DefaultRole"
USER_POOL = "AdminUserPool"
AUTHORIZER = "AdminJwt"
LINT_REGION = "eu-north-1"
# What Chalice reads from the project.
CHALICE_SOURCES = ("app.py", "chalicelib", "vendor", "requirements.txt", ".chalice/config.json")
# Added to Chalice's zip: the Lambdas of template.yaml, and the template the test clock reads at runtime.
EXTRA_SOURCES = ("functions", "template.yaml")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_PROBLEM_MEDIA_TYPE = "application/problem+json"


class _Dumper(yaml.SafeDumper):
    """Writes shared objects out in full: CloudFormation does not accept YAML anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class PackageError(Exception):
    """The platform cannot be packaged as it stands."""


@dataclass(frozen=True)
class LintReport:
    """cfn-lint's findings: errors fail the package, warnings are shown."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    seconds: float


@dataclass
class Package:
    """What ``build`` produced."""

    template_path: Path
    zip_path: Path
    template: dict[str, Any]
    lint: LintReport
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _tool(name: str) -> str:
    """A console script of this interpreter's environment (the venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise PackageError(f"{name} is not installed; run `make install`")
    return found


def _offline_aws_environment() -> dict[str, str]:
    """Chalice makes a botocore session but never calls AWS while packaging: placeholders, never real keys."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="packaging",
        AWS_SECRET_ACCESS_KEY="packaging",  # noqa: S106 - a placeholder, never sent
        AWS_DEFAULT_REGION=LINT_REGION,
        AWS_REGION=LINT_REGION,
    )
    return environment


def _function_globals(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template.get("Globals", {}).get("Function", {}))


def _copy_sources(root: Path, staging: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (*CHALICE_SOURCES, *EXTRA_SOURCES):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, staging / name, ignore=ignore)
        elif source.exists():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / name)


def _build_for_architecture(staging: Path, chalice_stage: str, template: dict[str, Any]) -> list[str]:
    """Make Chalice fetch wheels for the one architecture template.yaml's Globals give every function."""
    architectures = _function_globals(template).get("Architectures", ["x86_64"])
    if len(architectures) != 1:
        raise PackageError(f"template.yaml's Globals must name one architecture, not {architectures}")
    config_path = staging / ".chalice" / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    stage = config.setdefault("stages", {}).setdefault(chalice_stage, {})
    configured = stage.get("lambda_architecture", config.get("lambda_architecture", "x86_64"))
    if configured == architectures[0]:
        return []
    stage["lambda_architecture"] = architectures[0]
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return [
        f".chalice/config.json builds for {configured}; built for {architectures[0]} as template.yaml's "
        "Globals declare (set lambda_architecture there to silence this)"
    ]


def _run_chalice(staging: Path, out: Path, chalice_stage: str) -> None:
    command = [
        _tool("chalice"),
        "package",
        "--pkg-format",
        "cloudformation",
        "--template-format",
        "yaml",
        "--stage",
        chalice_stage,
        "--merge-template",
        "template.yaml",
        str(out),
    ]
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own venv's chalice
        command, cwd=staging, env=_offline_aws_environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PackageError(f"chalice package failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _iter_sources(root: Path, names: Iterable[str]) -> Iterable[tuple[Path, str]]:
    for name in names:
        path = root / name
        if path.is_file():
            yield path, name
            continue
        for file in sorted(path.rglob("*.py")):
            if "__pycache__" not in file.parts:
                yield file, file.relative_to(root).as_posix()


def add_to_zip(zip_path: Path, root: Path, names: Iterable[str] = EXTRA_SOURCES) -> list[str]:
    """Append ``names`` (files, or the .py files under folders) to Chalice's zip; returns the arcnames."""
    added: list[str] = []
    with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        existing = set(archive.namelist())
        for path, arcname in _iter_sources(root, names):
            if arcname in existing:
                raise PackageError(f"{arcname} is already in {zip_path.name}; Chalice must not ship it")
            # Fixed time and world-readable mode: the same sources give the same zip, and Lambda can read it.
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, path.read_bytes())
            added.append(arcname)
    return added


def _defer_to_globals(template: dict[str, Any]) -> list[str]:
    """Let template.yaml's Globals configure the API function as they configure every other one."""
    globals_ = _function_globals(template)
    properties = template["Resources"][API_FUNCTION]["Properties"]
    for key in ("Runtime", "Architectures"):
        if key in globals_ and key in properties and properties[key] != globals_[key]:
            raise PackageError(
                f"Chalice built {API_FUNCTION} for {key} {properties[key]!r} but template.yaml's Globals "
                f"declare {globals_[key]!r}; the shared zip's wheels would not load"
            )
    notes: list[str] = []
    for key in [key for key in properties if key in globals_ and key != "Environment"]:
        if properties[key] != globals_[key]:
            notes.append(f"{API_FUNCTION} {key}: Chalice's {properties[key]!r} → Globals' {globals_[key]!r}")
        # Also when equal: SAM concatenates lists such as Architectures with the Globals' ones.
        del properties[key]
    variables = properties.get("Environment", {}).get("Variables", {})
    global_variables = globals_.get("Environment", {}).get("Variables", {})
    for name in [name for name in variables if name in global_variables]:
        notes.append(f"{API_FUNCTION} {name}: Chalice's {variables[name]!r} dropped for Globals' value")
        del variables[name]
    if "Environment" in properties and not variables:
        del properties["Environment"]
    return notes


def _grant_api_access(template: dict[str, Any], source: dict[str, Any]) -> None:
    """Replace Chalice's role (its autogen policy cannot see PynamoDB or boto3 calls) with SAM policies.

    The API reads and writes every table and bucket; the test clock runs schedules in process and drains
    the queues they fan out to, so it also sends to, receives from and deletes on every consumed queue.
    """
    resources = template["Resources"]
    properties = resources[API_FUNCTION]["Properties"]
    if properties.pop("Role", None) != {"Fn::GetAtt": [CHALICE_ROLE, "Arn"]}:
        raise PackageError(f"{API_FUNCTION} no longer uses Chalice's {CHALICE_ROLE}; review this step")
    del resources[CHALICE_ROLE]
    if CHALICE_ROLE in json.dumps(template):
        raise PackageError(f"something else still refers to Chalice's {CHALICE_ROLE}")
    policies: list[dict[str, Any]] = []
    for logical_id, resource in source["Resources"].items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            policies.append({"DynamoDBCrudPolicy": {"TableName": {"Ref": logical_id}}})
        elif resource.get("Type") == "AWS::S3::Bucket":
            # The bucket's name expression, as template.yaml's functions use it, rather than Ref.
            name = resource.get("Properties", {}).get("BucketName", {"Ref": logical_id})
            policies.append({"S3CrudPolicy": {"BucketName": name}})
    queues = sorted({consumer.queue_logical_id for consumer in read_wiring(source).queues})
    for queue in queues:
        policies.append({"SQSPollerPolicy": {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}})
        policies.append({"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}})
    if queues:
        # The drainer looks queues up by name; SAM's SQS templates do not include GetQueueUrl.
        policies.append(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["sqs:GetQueueUrl"],
                        "Resource": [{"Fn::GetAtt": [queue, "Arn"]} for queue in queues],
                    }
                ],
            }
        )
    properties["Policies"] = policies


def _protect_admin_routes(template: dict[str, Any], specs: Sequence[RouteSpec]) -> None:
    """API Gateway's Cognito authorizer on every admin operation; public ones stay open."""
    body = template["Resources"][REST_API]["Properties"]["DefinitionBody"]
    body.setdefault("securityDefinitions", {})[AUTHORIZER] = {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {
            "type": "cognito_user_pools",
            "providerARNs": [{"Fn::GetAtt": [USER_POOL, "Arn"]}],
        },
    }
    paths: dict[str, dict[str, Any]] = body["paths"]
    declared = {(spec.path, spec.method.lower()) for spec in specs}
    generated = {(path, method) for path, item in paths.items() for method in item if method != "options"}
    if declared != generated:
        raise PackageError(
            "Chalice's routes and the route specs differ: "
            f"only in specs {sorted(declared - generated)}, only in Chalice {sorted(generated - declared)}"
        )
    for spec in specs:
        operation = paths[spec.path][spec.method.lower()]
        if spec.auth == "admin":
            operation["security"] = [{AUTHORIZER: []}]
        else:
            operation.pop("security", None)


def _problem_template(type_url: str, title: str, status: int | None) -> str:
    # $context.error.messageString is already a quoted JSON string; the rest is static.
    members = [f'"type": {json.dumps(type_url)}', f'"title": {json.dumps(title)}']
    if status is not None:
        members.append(f'"status": {status}')
    members.append('"detail": $context.error.messageString')
    return "{" + ", ".join(members) + "}"


def gateway_responses(problem_base_url: str) -> dict[str, Any]:
    """API Gateway's own errors (authorizer, throttling, timeouts) as RFC 9457 problem JSON."""

    def response(type_url: str, title: str, status: int | None, **headers: str) -> dict[str, Any]:
        parameters = {"gatewayresponse.header.Content-Type": f"'{_PROBLEM_MEDIA_TYPE}'"}
        parameters.update({f"gatewayresponse.header.{name}": f"'{value}'" for name, value in headers.items()})
        answer: dict[str, Any] = {
            "responseParameters": parameters,
            "responseTemplates": {"application/json": _problem_template(type_url, title, status)},
        }
        if status is not None:
            answer["statusCode"] = str(status)
        return answer

    def typed(error: type[AboError], **headers: str) -> dict[str, Any]:
        return response(f"{problem_base_url}{error.slug}", error.title, error.status, **headers)

    gateway = f"{problem_base_url}gateway/$context.error.responseType"
    return {
        "DEFAULT_4XX": response(gateway, "Rejected by the API gateway", None),
        "DEFAULT_5XX": response(gateway, "API gateway error", None),
        # The same problem types as the app's own 401/403, so clients handle one shape.
        "UNAUTHORIZED": typed(UnauthenticatedError, **{"WWW-Authenticate": "Bearer"}),
        "ACCESS_DENIED": typed(ForbiddenError),
        # API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
        "MISSING_AUTHENTICATION_TOKEN": typed(NotFoundError),
    }


def _add_gateway_responses(template: dict[str, Any], problem_base_url: str) -> None:
    # In the swagger body, not as AWS::ApiGateway::GatewayResponse resources: a change to those takes
    # effect only at the next deployment, and SAM redeploys only when the body changes.
    body = template["Resources"][REST_API]["Properties"]["DefinitionBody"]
    body["x-amazon-apigateway-gateway-responses"] = gateway_responses(problem_base_url)


def handler_module_paths(handler: str) -> tuple[str, str]:
    """The two files a Lambda handler ``pkg.module.attr`` may be loaded from."""
    module = handler.rpartition(".")[0].replace(".", "/")
    return f"{module}.py", f"{module}/__init__.py"


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every function's properties with the Globals applied (scalars only: all this module compares)."""
    globals_ = _function_globals(template)
    return {
        logical_id: {**globals_, **resource.get("Properties", {})}
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def _check_artifact(template: dict[str, Any], zip_path: Path) -> None:
    """Every function runs from the one zip, and its handler's module is inside it."""
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
    problems: list[str] = []
    for logical_id, properties in functions_of(template).items():
        if properties.get("CodeUri") != f"./{ZIP_NAME}":
            problems.append(f"{logical_id} runs from {properties.get('CodeUri')!r}, not ./{ZIP_NAME}")
        handler = str(properties.get("Handler", ""))
        if not any(path in names for path in handler_module_paths(handler)):
            problems.append(f"{logical_id}'s handler {handler!r} is not in {ZIP_NAME}")
    if template.get("Transform") != "AWS::Serverless-2016-10-31":
        problems.append("the template lost its SAM transform")
    if problems:
        raise PackageError("; ".join(problems))


def lint(template_path: Path, regions: Sequence[str] = (LINT_REGION,)) -> LintReport:
    """Run cfn-lint (offline) over ``template_path``."""
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own venv's cfn-lint
        [
            _tool("cfn-lint"),
            "--format",
            "json",
            "--non-zero-exit-code",
            "none",
            "--regions",
            *regions,
            "--",
            str(template_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    try:
        findings = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        raise PackageError(f"cfn-lint failed:\n{result.stdout}{result.stderr}") from None
    errors: list[str] = []
    warnings: list[str] = []
    for finding in findings:
        line = finding.get("Location", {}).get("Start", {}).get("LineNumber", "?")
        text = f"{finding['Rule']['Id']} line {line}: {finding['Message']}"
        (errors if finding["Level"] == "Error" else warnings).append(text)
    return LintReport(tuple(errors), tuple(warnings), seconds)


def build(out: Path, root: Path = ROOT, chalice_stage: str = "dev") -> Package:
    """Package the platform into ``out`` (sam.yaml and deployment.zip) and lint it."""
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="abo-package-") as scratch:
        # One snapshot of the tree, so that edits made meanwhile cannot mix two versions in the zip.
        staging = Path(scratch) / "project"
        built = Path(scratch) / "out"
        _copy_sources(root, staging)
        source = load_template(staging / "template.yaml")
        notes = _build_for_architecture(staging, chalice_stage, source)
        started = time.monotonic()
        _run_chalice(staging, built, chalice_stage)
        timings["chalice package"] = time.monotonic() - started
        add_to_zip(built / ZIP_NAME, staging)
        template = yaml.safe_load((built / TEMPLATE_NAME).read_text(encoding="utf-8"))
        notes += _defer_to_globals(template)
        _grant_api_access(template, source)
        _protect_admin_routes(template, all_specs())
        _add_gateway_responses(template, str(Settings.model_fields["problem_base_url"].default))
        _check_artifact(template, built / ZIP_NAME)
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("sam.json", TEMPLATE_NAME, ZIP_NAME):
            (out / stale).unlink(missing_ok=True)
        shutil.move(built / ZIP_NAME, out / ZIP_NAME)
    template_path = out / TEMPLATE_NAME
    template_path.write_text(
        yaml.dump(template, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8"
    )
    report = lint(template_path)
    timings["cfn-lint"] = report.seconds
    return Package(template_path, out / ZIP_NAME, template, report, notes, timings)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infra.package OUT``: exit 1 when packaging fails or cfn-lint reports an error."""
    parser = argparse.ArgumentParser(prog="python -m infra.package", description="Package the platform.")
    parser.add_argument("out", type=Path, help="output directory (sam.yaml, deployment.zip)")
    parser.add_argument("--chalice-stage", default="dev", help="the .chalice/config.json stage to build")
    args = parser.parse_args(argv)
    try:
        package = build(args.out, chalice_stage=args.chalice_stage)
    except PackageError as failure:
        print(f"package: {failure}", file=sys.stderr)
        return 1
    for note in package.notes:
        print(f"note: {note}")
    for warning in package.lint.warnings:
        print(f"cfn-lint warning: {warning}")
    for error in package.lint.errors:
        print(f"cfn-lint error: {error}", file=sys.stderr)
    size_mb = package.zip_path.stat().st_size / 1_000_000
    timing = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in package.timings.items())
    print(f"{package.template_path} and {package.zip_path} ({size_mb:.1f} MB); {timing}")
    if package.lint.errors:
        print(f"cfn-lint: {len(package.lint.errors)} error(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
