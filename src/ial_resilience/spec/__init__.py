"""Experiment, suite and system files: frozen models, a line-accurate loader and a JSON Schema.

```python
from ial_resilience.spec import load_experiment, load_suite, load_system, experiment_json_schema
exp = load_experiment("latency-db.yaml", variables={"lb": "http://127.0.0.1:8080"})
```

Every loader raises one :class:`~ial_resilience.errors.SpecError` listing every problem found
(``file:line:col: key: found X; expected Y``).
"""

from ial_resilience.faults.vocabulary import FAULTS, FaultKind, FaultParams, TargetKind
from ial_resilience.spec.loader import load_experiment, load_system
from ial_resilience.spec.models import (
    CommandProbe,
    Direction,
    Experiment,
    FaultStep,
    Guardrail,
    HttpMethod,
    HttpProbe,
    MetricProbe,
    ProbeCheck,
    ProbeKind,
    ProbeSpec,
    ProcessProbe,
    Recovery,
    SqlProbe,
    Target,
    TcpProbe,
)
from ial_resilience.spec.schema import (
    experiment_json_schema,
    suite_json_schema,
    system_json_schema,
)
from ial_resilience.spec.suite import Suite, SuiteEntry, load_suite
from ial_resilience.spec.system import FaultTargetRef, LinkSpec, ProcessSpec, System, SystemFault
from ial_resilience.spec.tolerance import Comparison, ComparisonOp, Statistic, Tolerance
from ial_resilience.spec.variables import Variables, parse_assignments

__all__ = [
    "FAULTS",
    "CommandProbe",
    "Comparison",
    "ComparisonOp",
    "Direction",
    "Experiment",
    "FaultKind",
    "FaultParams",
    "FaultStep",
    "FaultTargetRef",
    "Guardrail",
    "HttpMethod",
    "HttpProbe",
    "LinkSpec",
    "MetricProbe",
    "ProbeCheck",
    "ProbeKind",
    "ProbeSpec",
    "ProcessProbe",
    "ProcessSpec",
    "Recovery",
    "SqlProbe",
    "Statistic",
    "Suite",
    "SuiteEntry",
    "System",
    "SystemFault",
    "Target",
    "TargetKind",
    "TcpProbe",
    "Tolerance",
    "Variables",
    "experiment_json_schema",
    "load_experiment",
    "load_suite",
    "load_system",
    "parse_assignments",
    "suite_json_schema",
    "system_json_schema",
]
