"""The ``ialr alerts test`` file: which rules, which experiment, which alerts are expected.

```yaml
version: 1
rules: rules.yaml               # paths relative to this file
experiment: experiment.yaml
system: system.yaml             # optional
vars: {api: "http://127.0.0.1:8080"}
store: telemetry.db             # optional: default a fresh file in a temporary directory
evaluate_every: 250ms           # optional: overrides the rules file's interval
warmup: 2s                      # load and evaluation before the experiment starts
canary:                         # optional synthetic traffic recorded into the store
  url: "${api}/orders"
  every: 50ms
  timeout: 1s
  metric: http.requests         # value 1 per request, label outcome=ok|error
  latency_metric: http.latency_ms
  labels: {service: orders}
expect:
  - alert: orders-latency       # a rule of the rules file
    group: {service: orders}    # optional: labels the alert must carry
    fire_within: 10s            # after the first fault was applied
    resolve_within: 20s         # after the last fault was reverted
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from ial_resilience.alerting.rules import NAME_PATTERN, Hold, Window
from ial_resilience.spec.document import read_document
from ial_resilience.spec.fields import HttpUrl, SpecModel
from ial_resilience.spec.loader import (
    make_variables,
    raise_problems,
    shape_problems,
    unless_reported,
    validate_model,
)
from ial_resilience.spec.variables import substitute_document


class Canary(SpecModel):
    url: HttpUrl
    every: Window = 0.05
    timeout: Window = 1.0
    metric: str = Field(default="http.requests", pattern=NAME_PATTERN)
    latency_metric: str = Field(default="http.latency_ms", pattern=NAME_PATTERN)
    labels: dict[str, str] = Field(default_factory=dict)


class Expectation(SpecModel):
    alert: str = Field(min_length=1)
    group: dict[str, str] = Field(default_factory=dict)
    fire_within: Window
    resolve_within: Window


class PipelineSpec(SpecModel):
    version: Literal[1]
    rules: str = Field(min_length=1)
    experiment: str = Field(min_length=1)
    system: str | None = None
    vars: dict[str, str] = Field(default_factory=dict)
    store: str | None = None
    evaluate_every: Window | None = None
    warmup: Hold = 0.0
    canary: Canary | None = None
    expect: tuple[Expectation, ...] = Field(min_length=1)
    source: SkipJsonSchema[str] = Field(default="", validation_alias="__source__")

    def path(self, relative: str) -> Path:
        """``relative`` resolved against the directory of this file."""
        base = Path(self.source).parent if self.source else Path.cwd()
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else base / candidate


def load_pipeline_spec(path: str | Path, variables: dict[str, str] | None = None) -> PipelineSpec:
    """Load an ``alerts test`` file; ``SpecError`` with every problem (file:line)."""
    document = read_document(path)
    shape_problems(document, "version, rules, experiment and expect")
    own = document.data.get("vars")
    merged = {**(own if isinstance(own, dict) else {}), **(variables or {})}
    problems = substitute_document(
        document, make_variables({str(k): str(v) for k, v in merged.items()}), skip=("vars",)
    )
    spec, model_problems = validate_model(document, PipelineSpec)
    problems += unless_reported(model_problems, problems)
    raise_problems(problems)
    assert spec is not None
    return spec.model_copy(update={"vars": {str(k): str(v) for k, v in merged.items()}})
