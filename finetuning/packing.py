"""Sequence packing: several short examples side by side in one row.

A packed row holds whole examples one after the other, up to
`max_seq_length` positions. Each keeps its own positions (`position_ids`
restart at 0) and sees only itself: `input_mask` numbers the examples of a
row 1, 2, 3, ... (0 is padding) and the model turns it into a block-diagonal
attention mask (`modeling.create_attention_mask_from_example_ids`). A token's
output is then that of the example alone, up to float rounding, and the
padding that length bucketing leaves disappears.

Only per-token heads (NER) can be packed: a row has no single [CLS].
"""

import numpy as np

POSITION_IDS = "position_ids"


def plan(lengths, capacity):
  """Where each example goes: first fit, longest examples first.

  Returns:
    (places, fill): `places[i]` is the (row, offset) of example i; `fill[r]`
    the positions used in row r.
  """
  order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
  places = [None] * len(lengths)
  fill = []
  for i in order:
    n = lengths[i]
    if n > capacity:
      raise ValueError("an example of %d positions does not fit in a row of "
                       "%d" % (n, capacity))
    for row, used in enumerate(fill):
      if used + n <= capacity:
        break
    else:
      row = len(fill)
      fill.append(0)
    places[i] = (row, fill[row])
    fill[row] += n
  return places, fill


def pack(sequences, lengths, capacity, multiple=8):
  """Packs examples into rows.

  Args:
    sequences: {name: list (or 2-D array) of per-example int sequences};
      example i's values are its first `lengths[i]`. Must hold `input_mask`.
    lengths: the examples' lengths.
    capacity: positions per row (max_seq_length).
    multiple: the rows' width is the fullest row's fill rounded up to this.

  Returns:
    ({name: int32 array [rows, width]} including "position_ids", and
    `input_mask` numbering the examples of each row from 1; places as in
    `plan`).
  """
  places, fill = plan(lengths, capacity)
  width = -(-max(fill or [1]) // multiple) * multiple
  rows = len(fill)
  out = {name: np.zeros([rows, width], np.int32) for name in sequences}
  out[POSITION_IDS] = np.zeros([rows, width], np.int32)
  count = [0] * rows
  for i in sorted(range(len(lengths)), key=lambda i: places[i]):
    row, offset = places[i]
    n = lengths[i]
    for name, values in sequences.items():
      out[name][row, offset:offset + n] = np.asarray(values[i])[:n]
    count[row] += 1
    out["input_mask"][row, offset:offset + n] = count[row]
    out[POSITION_IDS][row, offset:offset + n] = np.arange(n)
  return out, places


def unpack(row_outputs, places, lengths):
  """Per-example outputs of packed rows.

  Args:
    row_outputs: {name: array [rows, width, ...]}: per-position outputs.
    places, lengths: as given to / returned by `pack`.

  Returns:
    A list of {name: array [length, ...]}, one per example.
  """
  return [{name: values[row, offset:offset + n]
           for name, values in row_outputs.items()}
          for (row, offset), n in zip(places, lengths)]
