"""The CloudFormation builder renders short intrinsic tags that CloudFormation parses back."""

from __future__ import annotations

import pytest
from cfnlint.decode import decode_str

from ial_resilience.aws.cfn import (
    NO_VALUE,
    And,
    Equals,
    GetAtt,
    If,
    Not,
    Ref,
    Sub,
    Template,
    render_yaml,
)


def _template() -> Template:
    t = Template("demo")
    name = t.parameter("Name", "String", "a name", Default="x")
    t.condition("HasName", And((Not(Equals(name, "")), Equals(Ref("AWS::Region"), "us-east-1"))))
    t.resource("Topic", "AWS::SNS::Topic", {"TopicName": Sub("${AWS::StackName}-${Name}")})
    t.resource("Queue", "AWS::SQS::Queue", {
        "Tags": [{"Key": "a", "Value": If("HasName", GetAtt("Topic", "TopicName"), NO_VALUE)},
                 {"Key": "b", "Value": If("HasName", NO_VALUE, "none")}],
    })  # fmt: skip
    t.output("TopicArn", Ref("Topic"), "the topic")
    return t


def test_renders_short_tags_that_parse_back_to_intrinsics() -> None:
    text = render_yaml(_template(), header="line one\nline two")
    assert text.startswith("# line one\n# line two\nAWSTemplateFormatVersion: '2010-09-09'\n")
    assert "!Sub ${AWS::StackName}-${Name}" in text
    assert "!If [HasName, !GetAtt Topic.TopicName, !Ref AWS::NoValue]" in text
    decoded, matches = decode_str(text)
    assert matches == []
    assert decoded is not None
    tags = decoded["Resources"]["Queue"]["Properties"]["Tags"]
    assert tags[0]["Value"] == {
        "Fn::If": ["HasName", {"Fn::GetAtt": ["Topic", "TopicName"]}, {"Ref": "AWS::NoValue"}]
    }
    assert decoded["Conditions"]["HasName"]["Fn::And"][0] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]
    }


def test_shared_objects_are_never_written_as_yaml_aliases() -> None:
    text = render_yaml(_template())
    assert "&id" not in text and "*id" not in text
    assert text.count("!Ref AWS::NoValue") == 2


def test_rendering_is_deterministic() -> None:
    assert render_yaml(_template()) == render_yaml(_template())


def test_a_logical_id_cannot_be_used_twice() -> None:
    t = _template()
    with pytest.raises(ValueError, match="'Topic' is used twice"):
        t.resource("Topic", "AWS::SNS::Topic", {})
