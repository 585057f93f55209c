"""Options declared once: dataclass fields with their help, made into flags.

A runner's options are frozen dataclasses (`config.RunConfig` for what
every runner shares, the runner's own for its task). Each field that is a
flag is declared with `option(default, help)`; `define_flags` makes the
absl flags of a dataclass from those fields, with the original names and
each runner's own defaults, and `values` reads them back. A new option is a
new field, nowhere else.
"""

import dataclasses
import sys
import typing

from absl import flags

FLAGS = flags.FLAGS


def option(default, help, choices=None):  # pylint: disable=redefined-builtin
  """A dataclass field that is also a flag (`choices`: an enum flag)."""
  return dataclasses.field(default=default,
                           metadata={"help": help, "choices": choices})


def fields(cls):
  """The fields of dataclass `cls` that are flags."""
  return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def kind(field):
  """bool, int, float or str: the type a field's flag parses."""
  kind = field.type
  args = [a for a in typing.get_args(kind) if a is not type(None)]
  if args:  # Optional[X]
    kind = args[0]
  if kind not in (bool, int, float, str):
    raise TypeError("option %s: no flag for type %r" % (field.name, kind))
  return kind


_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
           float: flags.DEFINE_float, str: flags.DEFINE_string}


def define_flags(cls, defaults=None, flag_values=FLAGS):
  """Defines a flag for each option of dataclass `cls`.

  Args:
    cls: the dataclass.
    defaults: {name: default} of this runner where it differs from the
      field's (the original scripts' defaults differ).
    flag_values: absl's FlagValues.

  A flag already defined (another runner imported in the same process)
  only gets its default reset.
  """
  defaults = dict(defaults or {})
  unknown = set(defaults) - {f.name for f in fields(cls)}
  if unknown:
    raise ValueError("%s has no option %s" % (cls.__name__, sorted(unknown)))
  for field in fields(cls):
    default = defaults.get(field.name, field.default)
    if field.name in flag_values:
      flag_values.set_default(field.name, default)
      continue
    help_text = field.metadata["help"]
    # absl files a script's own flags under its path (--help groups them).
    module = sys.argv[0] if cls.__module__ == "__main__" else cls.__module__
    if field.metadata["choices"]:
      flags.DEFINE_enum(field.name, default, field.metadata["choices"],
                        help_text, flag_values=flag_values,
                        module_name=module)
    else:
      _DEFINE[kind(field)](field.name, default, help_text,
                            flag_values=flag_values, module_name=module)


def values(cls, flag_values):
  """{name: parsed value} of the options of `cls`."""
  return {f.name: getattr(flag_values, f.name) for f in fields(cls)}
