"""Generate the JSON schemas kubeconform validates Herald's manifests against, offline.

    python k8s_schemas.py --swagger SWAGGER.json [--crd CRD.yaml ...] --out DIR

- Kubernetes' own kinds from its OpenAPI (v2) document (``api/openapi-spec/swagger.json`` of the
  ``k8s.io/kubernetes`` module): one schema per kind and version, each standalone (the
  definitions it uses are embedded), strict (an object with declared properties allows no
  other: a misspelt field is an error).
- Custom resources (KEDA's ScaledObject, the Prometheus Operator's ServiceMonitor …) from the
  ``openAPIV3Schema`` of their CustomResourceDefinitions, strict in the same way, except where
  the CRD preserves unknown fields.

Files are named as kubeconform looks them up with the schema location
``DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json``: ``deployment-apps-v1.json``,
``service-v1.json``, ``scaledobject-keda-v1alpha1.json``. (deploy/local/k8s-validate.sh runs
this with the project's Python, which has PyYAML.)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]

INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
QUANTITY = {"oneOf": [{"type": "string"}, {"type": "number"}]}
# Kubernetes types that its OpenAPI document declares as strings but that manifests also write
# as numbers (a port 8080 or "http", a CPU of 1 or "500m").
SPECIAL_DEFINITIONS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": QUANTITY,
}
REF = re.compile(r"^#/definitions/(.+)$")


def schema_file_name(kind: str, group: str, version: str) -> str:
    """kubeconform's ``{{ .ResourceKind }}{{ .KindSuffix }}.json`` for a kind of a group and
    version: the kind in lower case, the group's first label, the version."""
    suffix = f"-{group.split('.')[0].lower()}-{version.lower()}" if group else f"-{version.lower()}"
    return f"{kind.lower()}{suffix}.json"


def strict(node: Any) -> Any:
    """A copy of a JSON schema in which every object with declared properties forbids others
    (unless it preserves unknown fields), and int-or-string fields accept both."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("x-kubernetes-int-or-string") is True:
        rest = {k: strict(v) for k, v in node.items() if k not in {"type", "format"}}
        return {**rest, **INT_OR_STRING}
    result = {key: strict(value) for key, value in node.items()}
    if node.get("format") == "int-or-string":
        result.pop("type", None)
        result.pop("format", None)
        result.update(INT_OR_STRING)
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        result["type"] = [node["type"], "null"]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and node.get("x-kubernetes-preserve-unknown-fields") is not True
    ):
        result["additionalProperties"] = False
    return result


def references(node: Any) -> Iterator[str]:
    """The names of the definitions a schema refers to (``#/definitions/NAME``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and (match := REF.match(ref)):
            yield match.group(1)
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def standalone(name: str, definitions: dict[str, Schema]) -> Schema:
    """The definition ``name`` with every definition it reaches embedded, made strict."""
    needed: dict[str, Schema] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        if current in needed:
            continue
        definition = SPECIAL_DEFINITIONS.get(current) or definitions[current]
        needed[current] = definition
        pending.extend(references(definition))
    schema: Schema = strict(copy.deepcopy(needed[name]))
    # The root too: a definition may refer back to it (JSONSchemaProps does, to itself).
    schema["definitions"] = {k: strict(copy.deepcopy(v)) for k, v in needed.items()}
    return schema


def kubernetes_schemas(swagger: Schema) -> Iterator[tuple[str, Schema]]:
    """(file name, schema) of every kind of Kubernetes' OpenAPI document."""
    definitions: dict[str, Schema] = swagger["definitions"]
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            schema = standalone(name, definitions)
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            api_version = f"{group}/{version}" if group else version
            properties = schema.setdefault("properties", {})
            # Pin apiVersion and kind: a manifest of another version is looked up elsewhere.
            properties["apiVersion"] = {"type": "string", "enum": [api_version]}
            properties["kind"] = {"type": "string", "enum": [kind]}
            yield schema_file_name(kind, group, version), schema


def crd_schemas(crd: Schema) -> Iterator[tuple[str, Schema]]:
    """(file name, schema) of every served version of a CustomResourceDefinition."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        properties["kind"] = {"type": "string", "enum": [kind]}
        # A CRD's schema leaves metadata to the API server: accept the object metadata.
        properties["metadata"] = {"type": "object"}
        yield schema_file_name(kind, group, version["name"]), schema


class _CrdLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a plain ``=`` is a string: YAML 1.1 resolves it to a "value"
    tag PyYAML cannot construct, and CRDs list ``=`` among enum values (label matchers)."""


_CrdLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_crds(paths: Iterable[Path]) -> Iterator[Schema]:
    for path in paths:
        for document in yaml.load_all(path.read_text(), Loader=_CrdLoader):
            if document and document.get("kind") == "CustomResourceDefinition":
                yield document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swagger", type=Path, required=True)
    parser.add_argument("--crd", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    schemas = [
        *kubernetes_schemas(json.loads(args.swagger.read_text())),
        *(item for crd in load_crds(args.crd) for item in crd_schemas(crd)),
    ]
    for file_name, schema in schemas:
        (args.out / file_name).write_text(json.dumps(schema, separators=(",", ":")))
        written += 1
    print(f"{written} schemas in {args.out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
