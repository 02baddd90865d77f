"""The one AMI value encoder: no value can add a header, end an action or add a channel variable."""

from __future__ import annotations

import pytest

from connector import ami_values as values
from connector.ami.protocol import encode_action
from connector.control import CallControlSettings
from connector.errors import NotPermittedError, UnsafeValueError


@pytest.mark.parametrize("value", ["abc\r\nAction: Hangup", "abc\nX: 1", "abc\rX", "a\x00b"])
def test_a_line_break_or_nul_in_any_header_is_refused(value: str) -> None:
    with pytest.raises(UnsafeValueError):
        encode_action({"Action": "Originate", "Exten": value})


@pytest.mark.parametrize("value", ["abc,OUTBOUND_ROUTE=evil", 'a"b', "a\\,b", "f(x", "a)b"])
def test_a_value_asterisk_would_split_into_more_variables_is_refused(value: str) -> None:
    with pytest.raises(UnsafeValueError, match="CRM_CALL_ID"):
        values.variables({"CRM_CALL_ID": value})


def test_plain_variables_are_joined_as_asterisk_reads_them() -> None:
    encoded = values.variables({"A": "externalCall.5c8d:2=x", "B_2": "Иван"})
    assert encoded == "A=externalCall.5c8d:2=x,B_2=Иван"


@pytest.mark.parametrize("name", ["A=B", "", "1A", "A B", "A,B"])
def test_a_variable_name_that_is_not_an_identifier_is_refused(name: str) -> None:
    with pytest.raises(UnsafeValueError):
        values.variables({name: "1"})


def test_a_header_name_with_a_colon_is_refused() -> None:
    with pytest.raises(UnsafeValueError):
        encode_action({"Action": "Ping", "X: y\r\nEvil": "1"})


def test_an_unsafe_value_is_a_refusal_callers_map_to_4xx() -> None:
    assert issubclass(UnsafeValueError, NotPermittedError)


def test_configured_channel_variables_go_through_the_same_encoder() -> None:
    with pytest.raises(ValueError, match="OUTBOUND_ROUTE"):
        CallControlSettings(variables={"OUTBOUND_ROUTE": "1(2"})
