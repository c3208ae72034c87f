"""Transform template.yaml into plain CloudFormation offline, as `sam build` and `sam deploy` would.

The SAM CLI uploads local code and state machine definitions before the Serverless transform runs.
This script inlines each local `DefinitionUri` file as `Definition` instead, and points each local
`CodeUri` at a placeholder S3 object. It also checks that the HttpApi `DefinitionBody` integrates
exactly the routes that the functions declare as HttpApi events, each with the function that
declares it.

It makes no AWS calls. aws-sam-translator still reads a region from the environment, so run it
with the placeholder region and credentials that scripts/check-template exports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

PLACEHOLDER_CODE_BUCKET = "offline-template-check"
INTEGRATION_KEY = "x-amazon-apigateway-integration"


class TemplateCheckError(Exception):
    """A problem in the template that the transform or the route check found."""


def inline_local_artifacts(template: dict[str, Any], template_dir: Path) -> None:
    """Replace local DefinitionUri files with inline definitions and local CodeUri with S3 URIs."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        resource_type = resource.get("Type")
        if resource_type == "AWS::Serverless::StateMachine":
            definition_uri = properties.get("DefinitionUri")
            if isinstance(definition_uri, str) and not definition_uri.startswith("s3://"):
                definition_path = template_dir / definition_uri
                try:
                    properties["Definition"] = json.loads(definition_path.read_text(encoding="utf-8"))
                except FileNotFoundError as error:
                    raise TemplateCheckError(
                        f"{logical_id}: DefinitionUri {definition_uri} not found at {definition_path}"
                    ) from error
                except json.JSONDecodeError as error:
                    raise TemplateCheckError(
                        f"{logical_id}: DefinitionUri {definition_uri} is not valid JSON: {error}"
                    ) from error
                del properties["DefinitionUri"]
        elif resource_type == "AWS::Serverless::Function":
            code_uri = properties.get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                properties["CodeUri"] = f"s3://{PLACEHOLDER_CODE_BUCKET}/{logical_id}.zip"


def integration_target(function_name: Any) -> str | None:
    """Return the invocation suffix that an integration URI for a function with this name ends with."""
    if isinstance(function_name, dict) and isinstance(function_name.get("Fn::Sub"), str):
        return f":function:{function_name['Fn::Sub']}/invocations"
    if isinstance(function_name, str):
        return f":function:{function_name}/invocations"
    return None


def declared_routes(template: dict[str, Any], api_id: str) -> dict[tuple[str, str], str]:
    """Map (path, method) of every HttpApi event on api_id to the logical id of its function."""
    routes: dict[tuple[str, str], str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            event_properties = event.get("Properties", {})
            if event_properties.get("ApiId") != {"Ref": api_id}:
                continue
            key = (event_properties.get("Path", ""), str(event_properties.get("Method", "")).lower())
            routes[key] = logical_id
    return routes


def check_http_api_routes(template: dict[str, Any]) -> list[str]:
    """List the disagreements between each HttpApi DefinitionBody and the functions' HttpApi events."""
    problems: list[str] = []
    resources = template.get("Resources", {})
    for api_id, api in resources.items():
        if api.get("Type") != "AWS::Serverless::HttpApi":
            continue
        body = api.get("Properties", {}).get("DefinitionBody")
        if not isinstance(body, dict):
            continue

        integrated: dict[tuple[str, str], str] = {}
        for path, operations in body.get("paths", {}).items():
            for method, operation in operations.items():
                uri = operation.get(INTEGRATION_KEY, {}).get("uri")
                if isinstance(uri, dict):
                    uri = uri.get("Fn::Sub")
                integrated[(path, method.lower())] = uri if isinstance(uri, str) else ""

        declared = declared_routes(template, api_id)
        for route in sorted(set(declared) - set(integrated)):
            problems.append(
                f"{api_id}: route {route[1].upper()} {route[0]} of {declared[route]} has no integration "
                "in DefinitionBody; add one, or the API and the function depend on each other"
            )
        for route in sorted(set(integrated) - set(declared)):
            problems.append(
                f"{api_id}: DefinitionBody integrates {route[1].upper()} {route[0]}, "
                "but no function declares it as an HttpApi event, so API Gateway may not invoke it"
            )
        for route in sorted(set(integrated) & set(declared)):
            function_id = declared[route]
            function_name = resources[function_id].get("Properties", {}).get("FunctionName")
            target = integration_target(function_name)
            if target is None:
                problems.append(
                    f"{function_id}: FunctionName is missing or not a string or !Sub, so the "
                    f"integration of {route[1].upper()} {route[0]} cannot name it"
                )
            elif not integrated[route].endswith(target):
                problems.append(
                    f"{api_id}: integration of {route[1].upper()} {route[0]} does not invoke "
                    f"{function_id} (expected a URI ending in {target})"
                )
    return problems


def transform(template_path: Path) -> dict[str, Any]:
    """Load, check and transform the SAM template at template_path into CloudFormation."""
    template = yaml_parse(template_path.read_text(encoding="utf-8"))
    problems = check_http_api_routes(template)
    if problems:
        raise TemplateCheckError("\n".join(problems))

    inline_local_artifacts(template, template_path.parent)
    translator = Translator(managed_policy_map={}, sam_parser=Parser())
    try:
        return translator.translate(template, parameter_values={})
    except InvalidDocumentException as error:
        messages = [cause.message for cause in error.causes]
        raise TemplateCheckError("\n".join(messages) or str(error)) from error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path, help="SAM template to transform")
    parser.add_argument("output", type=Path, help="path of the CloudFormation JSON to write")
    arguments = parser.parse_args()

    try:
        cloudformation = transform(arguments.template)
    except TemplateCheckError as error:
        print(f"SAM transform of {arguments.template} failed:\n{error}", file=sys.stderr)
        return 1

    arguments.output.write_text(json.dumps(cloudformation, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
