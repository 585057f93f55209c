"""tag_corpus.py's readers and writers on what real files contain: byte-order
marks, other encodings, damaged and hostile files, and what an output
format cannot hold. Each gives a correct result or a record that names
the file and line, never a traceback or lost text."""

import gzip
import io
import json
import os
import time

import pytest

from corpus import documents
from corpus import readers
from corpus import writers
from finetuning import errors
from tests.helpers import write_file

BOM = b"\xef\xbb\xbf"


def _read(path, fmt=None):
  return list(readers.read(str(path), fmt or readers.detect_format(
      str(path))))


def _doc(doc_id, text):
  return documents.Document(doc_id, [documents.Passage("text", 0, text)])


@pytest.mark.parametrize("name,body,first", [
    ("a.jsonl", b'{"id": "a", "text": "Aspirin."}\n', _doc("a", "Aspirin.")),
    ("a.txt", b"Aspirin.\n", _doc("1", "Aspirin.")),
    ("a.pubtator", b"7|t|Aspirin.\n7|a|It helps.\n\n", documents.Document(
        "7", documents.joined([("title", "Aspirin.", None),
                               ("abstract", "It helps.", None)]))),
    ("a.json", b'{"bioctype": "BioCDocument", "id": "b", "infons": {}, '
     b'"passages": [{"offset": 0, "text": "Aspirin.", "infons": {}, '
     b'"sentences": [], "annotations": [], "relations": []}], '
     b'"relations": [], "annotations": []}\n', None),
    ("a.bioc.json", b'{"source": "", "date": "", "key": "", "infons": {}, '
     b'"documents": [{"id": "b", "infons": {}, "passages": [{"offset": 0, '
     b'"text": "Aspirin.", "infons": {}, "sentences": [], "annotations": '
     b'[], "relations": []}], "relations": [], "annotations": []}]}', None),
    ("a.xml", b"<?xml version='1.0' encoding='UTF-8'?><collection><source/>"
     b"<date/><key/><document><id>b</id><passage><offset>0</offset><text>"
     b"Aspirin.</text></passage></document></collection>", None),
])
@pytest.mark.parametrize("gz", [False, True])
def test_a_byte_order_mark_is_dropped_in_every_reader(tmp_path, name, body,
                                                      first, gz):
  path = tmp_path / (name + (".gz" if gz else ""))
  data = BOM + body
  path.write_bytes(gzip.compress(data) if gz else data)
  records = _read(path)
  assert len(records) == 1
  doc = records[0]
  assert isinstance(doc, documents.Document), doc
  assert doc.passages[0].text == "Aspirin."
  if first is not None:
    assert doc == first


@pytest.mark.parametrize("name,body,fmt,reason_line", [
    ("a.jsonl", b'{"id": "a", "text": "caf\xe9"}\n{"id": "b", "text": "ok"}\n',
     "jsonl", 1),
    ("a.txt", b"caf\xe9\nok\n", "text", 1),
    ("a.pubtator", b"1|t|caf\xe9\n1|a|x\n\n2|t|ok\n2|a|ok\n\n", "pubtator",
     1),
])
def test_latin1_lines_are_reported_and_the_rest_read(tmp_path, name, body,
                                                     fmt, reason_line):
  path = tmp_path / name
  path.write_bytes(body)
  records = _read(path)
  bad = records[0]
  assert isinstance(bad, documents.Malformed)
  assert bad.source == "%s:%d" % (path, reason_line)
  assert bad.reason.endswith("not UTF-8 text: byte 0xe9 at column %d" % (
      body.split(b"\n")[0].index(b"\xe9") + 1))
  assert [r.id for r in records[1:]] == ["b" if fmt == "jsonl" else "2"]


def test_lone_surrogates_nan_and_duplicate_keys_in_json_lines(tmp_path):
  path = write_file(tmp_path / "a.jsonl", "\n".join([
      '{"id": "a", "text": "x \\ud800 y"}',
      '{"id": "b", "text": "ok", "score": NaN}',
      '{"id": "c", "id": "d", "text": "ok"}',
      '{"id": "e", "text": "ok"}']) + "\n")
  records = _read(path)
  assert [type(r).__name__ for r in records] == ["Malformed"] * 3 + [
      "Document"]
  assert records[0].reason.startswith("\\ud800 is half a UTF-16 surrogate")
  assert records[1].reason.startswith("NaN is not a finite number")
  assert records[2].reason.startswith('key "id" appears twice')
  assert [r.source for r in records[:3]] == ["%s:%d" % (path, n)
                                             for n in (1, 2, 3)]


def _pubmed(n):
  articles = "".join(
      "<PubmedArticle><MedlineCitation><PMID>%d</PMID><Article>"
      "<ArticleTitle>Title %d of aspirin.</ArticleTitle></Article>"
      "</MedlineCitation></PubmedArticle>\n" % (k, k) for k in range(1, n + 1))
  return ("<?xml version='1.0'?>\n<PubmedArticleSet>\n%s</PubmedArticleSet>\n"
          % articles).encode()


def test_a_truncated_gz_keeps_what_was_read_and_says_where_it_ends(tmp_path):
  data = gzip.compress(_pubmed(4000))
  path = tmp_path / "pubmed.xml.gz"
  path.write_bytes(data[:len(data) // 2])
  records = _read(path)
  *docs, last = records
  assert docs and all(isinstance(d, documents.Document) for d in docs)
  assert [d.id for d in docs] == [str(k) for k in range(1, len(docs) + 1)]
  assert last == documents.Malformed(
      str(path), docs[-1].id, "the file cannot be read after document %s, "
      "the rest is not read: Compressed file ended before the end-of-stream "
      "marker was reached" % docs[-1].id)


@pytest.mark.parametrize("fmt", ["jsonl", "text", "pubtator"])
def test_a_truncated_gz_of_lines(tmp_path, fmt):
  line = {"jsonl": '{"id": "%d", "text": "Aspirin %d."}\n',
          "text": "Aspirin %d and %d.\n",
          "pubtator": "%d|t|Aspirin %d.\n\n"}[fmt]
  lines = "".join(line % (k, k) for k in range(30000)).encode()
  data = gzip.compress(lines)
  path = tmp_path / ("a.%s.gz" % fmt)
  path.write_bytes(data[:len(data) // 2])
  *docs, last = _read(path, fmt)
  # Every line read whole is a document; the cut one is not.
  assert docs and all(isinstance(d, documents.Document) for d in docs)
  if fmt == "jsonl":
    assert [d.id for d in docs] == [str(k) for k in range(len(docs))]
    assert docs[-1].passages[0].text == "Aspirin %s." % docs[-1].id
  assert last.reason.startswith("the file cannot be read after document ")


def test_a_plain_file_named_gz_is_refused_before_anything_runs(tmp_path):
  path = write_file(tmp_path / "a.jsonl.gz", '{"id": 1, "text": "x"}\n')
  with pytest.raises(errors.UserError) as e:
    readers.check_readable(path)
  assert str(e.value) == ("--input: %s cannot be read: Not a gzipped file "
                          "(b'{\"')" % path)


XXE = ("<?xml version='1.0'?>\n<!DOCTYPE collection [<!ENTITY x SYSTEM "
       "'file://%s'>]>\n<collection><source/><date/><key/><document><id>1</id>"
       "<passage><offset>0</offset><text>a &x; b</text></passage></document>"
       "</collection>\n")


@pytest.mark.parametrize("fmt", ["bioc_xml", "pubmed"])
def test_external_entities_are_never_read(tmp_path, fmt):
  secret = write_file(tmp_path / "secret.txt", "SECRET")
  text = XXE % secret
  if fmt == "pubmed":
    text = text.replace("collection", "PubmedArticleSet")
  path = write_file(tmp_path / "a.xml", text)
  records = _read(path, fmt)
  assert "SECRET" not in repr(records)
  assert len(records) == 1 and isinstance(records[0], documents.Malformed)
  assert "Entity 'x' not defined" in records[0].reason


@pytest.mark.parametrize("fmt", ["bioc_xml", "pubmed"])
def test_entity_expansion_is_refused_at_once(tmp_path, fmt):
  entities = '<!ENTITY lol "lol">' + "".join(
      '<!ENTITY lol%d "%s">' % (i, ("&lol%s;" % (i - 1 if i > 1 else "")) *
                                10) for i in range(1, 10))
  root = "collection" if fmt == "bioc_xml" else "PubmedArticleSet"
  path = write_file(tmp_path / "a.xml", (
      "<?xml version='1.0'?><!DOCTYPE %s [%s]><%s><document><id>1</id>"
      "<passage><offset>0</offset><text>&lol9;</text></passage></document>"
      "</%s>" % (root, entities, root, root)))
  begin = time.time()
  records = _read(path, fmt)
  assert time.time() - begin < 5
  assert len(records) == 1 and isinstance(records[0], documents.Malformed)
  assert "amplification" in records[0].reason


def test_bioc_passages_of_sentences_keep_their_text(tmp_path):
  path = write_file(tmp_path / "a.xml", (
      "<?xml version='1.0'?><collection><source/><date/><key/><document>"
      "<id>1</id><passage><offset>10</offset>"
      "<sentence><offset>10</offset><text>Aspirin helps.</text></sentence>"
      "<sentence><offset>26</offset><text>It is safe.</text></sentence>"
      "</passage><passage><offset>40</offset><sentence><offset>41</offset>"
      "<text>B</text></sentence><sentence><offset>40</offset><text>A</text>"
      "</sentence></passage></document></collection>"))
  records = _read(path, "bioc_xml")
  assert records == [documents.Malformed(
      str(path), "1", "the sentences of the passage at offset 40 overlap or "
      "are out of order")]
  path = write_file(tmp_path / "b.xml", open(path).read().replace(
      "<offset>41</offset><text>B", "<offset>42</offset><text>B").replace(
          "<offset>40</offset><text>A</text>", "<offset>44</offset><text>A"
          "</text>"))
  doc, = _read(path, "bioc_xml")
  assert [(p.offset, p.text) for p in doc.passages] == [
      (10, "Aspirin helps.  It is safe."), (40, "  B A")]


def _tagged(doc_id, passages, annotations=()):
  return {"id": doc_id, "infons": {}, "passages": [
      {"type": "text", "offset": o, "text": t, "infons": {}}
      for o, t in passages], "annotations": list(annotations),
          "relations": []}


@pytest.mark.parametrize("doc_id,passages,why", [
    ("a\tb", [(0, "x")], "its id holds a tab"),
    ("a\nb", [(0, "x")], "its id holds a line break"),
    ("12|t|3", [(0, "x")], "its id holds '|'"),
    ("1", [(0, "Title."), (3, "Nested.")], "its passages at offsets 0 and 3 "
     "overlap or are out of order"),
    ("1", [(0, "Title."), (6, "No space.")], "its passages at offsets 0 and "
     "6 overlap"),
    ("1", [(0, "Title."), (20, "b"), (10, "a")], "its passages at offsets 20 "
     "and 10 overlap"),
])
def test_what_pubtator_cannot_hold_is_refused_not_garbled(doc_id, passages,
                                                          why):
  doc = documents.Document(doc_id, [documents.Passage("text", o, t)
                                    for o, t in passages])
  assert writers.problem("pubtator", doc).startswith(why)
  for fmt in ("bioc_json", "bioc_xml", "jsonl"):
    assert writers.problem(fmt, doc) is None


def test_pubtator_takes_what_it_can_hold():
  doc = documents.Document("123", documents.joined([
      ("title", "Title.", None), ("abstract", "Rest.", None)]))
  assert writers.problem("pubtator", doc) is None


def test_bioc_xml_writes_control_characters_as_spaces_and_counts_them():
  import bioc
  from bioc import biocxml
  text = "Aspirin\x00 and \x1bNSAIDs\x0c."
  doc = _tagged("1\x01", [(0, text)], [{
      "id": "T1", "passage": 0, "type": "Chemical", "offset": 13,
      "length": 7, "text": "\x1bNSAIDs", "model": "m", "score": 0.9}])
  out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
  changed = writers.write("bioc_xml", [doc], out, "20260101")
  assert changed == {"characters XML cannot hold, written as spaces": 5}
  collection = biocxml.loads(out.buffer.getvalue().decode("utf-8"))
  passage = collection.documents[0].passages[0]
  assert collection.documents[0].id == "1 "
  assert passage.text == "Aspirin  and  NSAIDs ."
  assert len(passage.text) == len(text)  # the offsets stay right
  annotation = passage.annotations[0]
  assert passage.text[13:20] == annotation.text == " NSAIDs"
  assert isinstance(bioc.BioCCollection, type)
