"""Operators named in YAML by import path: loaded, or refused with a reason."""

import pytest

from eventyard.config import OperatorSpec
from eventyard.core.errors import ConfigError, OperatorDefinitionError
from eventyard.operators.examples import VelocityDetector
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_operators
from eventyard.pipelines.operator_specs import load_operator


def test_a_class_is_built_with_its_options():
    operator = load_operator(OperatorSpec(use="eventyard.operators.examples.velocity:VelocityDetector",
                                          options={"limit": 5, "window": "1h"}))
    assert isinstance(operator, VelocityDetector) and operator.options.limit == 5


@pytest.mark.parametrize(("use", "options", "says"), [
    ("eventyard.operators.examples.nope:Thing", {}, "cannot load"),
    ("eventyard.operators.examples.velocity:Missing", {}, "cannot load"),
    ("eventyard.operators.examples.velocity:VelocityDetector", {"limit": 0}, "rejected options"),
    ("eventyard.operators.examples.velocity:VelocityState", {}, "not an Operator"),
])
def test_bad_specs_name_the_problem(use, options, says):
    with pytest.raises(ConfigError, match=says):
        load_operator(OperatorSpec(use=use, options=options))


def test_yaml_operators_run_next_to_the_workflow_and_names_must_be_unique(make_settings):
    definition = get_pipeline("order_saga")
    spec = '[{"use": "eventyard.operators.examples.velocity:VelocityDetector"}]'
    names = [e.operator.name for e in build_operators(definition, make_settings(pipeline__operators=spec))]
    assert names == ["workflow", "velocity"]
    twice = definition.add(VelocityDetector())
    with pytest.raises(OperatorDefinitionError, match="velocity"):
        build_operators(twice, make_settings(pipeline__operators=spec))
