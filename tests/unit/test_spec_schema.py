"""JSON Schema for editors, and the bundled examples: all valid, all consistent."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ial_resilience.spec import (
    experiment_json_schema,
    load_experiment,
    load_suite,
    load_system,
    suite_json_schema,
    system_json_schema,
)
from ial_resilience.spec.document import read_document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCHEMAS = {
    "latency-db.yaml": experiment_json_schema,
    "suite.yaml": suite_json_schema,
    "system.yaml": system_json_schema,
}


def test_bundled_examples_validate() -> None:
    system = load_system(EXAMPLES / "system.yaml", environ={})
    experiment = load_experiment(EXAMPLES / "latency-db.yaml", system=system, environ={})
    assert experiment.environment == "lab" and len(experiment.method) == 2
    suite = load_suite(EXAMPLES / "suite.yaml", system=system, environ={})
    assert all(entry.experiment is not None for entry in suite.experiments)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_valid_json_schema_and_accepts_the_example(name: str) -> None:
    schema = SCHEMAS[name]()
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)
    jsonschema.Draft202012Validator(schema).validate(read_document(EXAMPLES / name).data)


def test_schema_uses_yaml_keys_and_string_forms() -> None:
    schema = experiment_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "source" not in schema["properties"]
    step = schema["$defs"]["FaultStep_network_latency"]
    assert "with" in step["properties"] and "params" not in step["properties"]
    assert step["properties"]["duration"]["type"] == "string"
    validator = jsonschema.Draft202012Validator(schema)
    document = read_document(EXAMPLES / "latency-db.yaml").data
    document["method"][0]["duration"] = 30
    document["steady_state"][0]["tolerance"]["success_rate"] = "about 1"
    assert len(list(validator.iter_errors(document))) >= 2
