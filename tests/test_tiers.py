"""The two tiers of the suite: in-process tests, and e2e tests that start
processes (found by tests/conftest.py, directly or through helpers)."""

from tests import conftest
from tests.helpers import run_tool


def _helper():
  return run_tool(["run_ner.py", "--help"])


def _indirect():
  return _helper()


def test_a_test_reaching_run_tool_through_helpers_is_e2e():
  assert conftest._starts_processes(_indirect, set())
  assert conftest._starts_processes(lambda: _helper(), set())
  assert not conftest._starts_processes(lambda: sorted([2, 1]), set())


def test_this_module_is_tiered(request):
  assert request.node.get_closest_marker("e2e") is None
