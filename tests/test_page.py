"""serve.py's page in a real browser: Debian's chromium driven by
Playwright for Python (the system browser, never a downloaded one).

The service runs in this process on a loopback port with a tagger that
finds fixed terms (tests.helpers.term_tagger), so that the page's
highlights, concept links, hovers, relations and downloads can be checked
exactly against the API's answer for the same input.
"""

import json
import os
import urllib.request

import pytest

from service import app as app_lib
from tests.helpers import serving
from tests.helpers import term_tagger

CHROMIUM = "/usr/bin/chromium"
ABSTRACT = ("Germline BRCA1 mutations raise the risk of breast cancer. "
            "Tamoxifen lowers it; tamoxifen is given to carriers.")
PUBTATOR = ("11|t|BRCA1 and breast cancer\n"
            "11|a|Women with breast cancer took tamoxifen.\n\n"
            "12|t|A second title\n12|a|No terms here.\n\n")


def _serving(limits):
  """The app with the term tagger, served on a loopback port."""
  return serving(app_lib.create_app(term_tagger(), limits, {
      "models": [{"name": "disease"}], "re_model": "gad",
      "normalizers": [{"type": "disease"}]}))


@pytest.fixture(scope="module")
def service():
  with _serving(app_lib.Limits()) as base:
    yield base


@pytest.fixture(scope="module")
def browser():
  if not os.path.exists(CHROMIUM):
    pytest.fail("%s is missing: apt-get install chromium (.ci/run does)" %
                CHROMIUM)
  from playwright.sync_api import sync_playwright
  args = ["--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run"]
  if os.geteuid() == 0:
    args.append("--no-sandbox")
  with sync_playwright() as p:
    b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield b
    b.close()


def _post(url, body, content_type="application/json"):
  request = urllib.request.Request(url, data=body,
                                   headers={"Content-Type": content_type})
  with urllib.request.urlopen(request, timeout=30) as r:
    return r.read()


def _shown(annotations):
  """The annotations the page highlights: in order of offset (longest
  first), each that does not overlap one shown before it."""
  shown, at = [], -1
  for a in sorted(annotations, key=lambda a: (a["offset"], -a["length"])):
    if a["offset"] >= at:
      shown.append(a)
      at = a["offset"] + a["length"]
  return shown


def _download(page, fmt, tmp_path):
  """(file name offered, saved path) of the page's download in `fmt`."""
  with page.expect_download() as download:
    page.click("#downloads button[data-format=%s]" % fmt)
  saved = tmp_path / ("page." + fmt)
  download.value.save_as(str(saved))
  return download.value.suggested_filename, saved


def _marks(page):
  return page.eval_on_selector_all("mark.entity", """marks => marks.map(m => ({
      text: m.textContent, id: m.dataset.id, type: m.dataset.type,
      offset: Number(m.dataset.offset), length: Number(m.dataset.length),
      title: m.title, href: m.querySelector('a') ? m.querySelector('a').href
                                                 : null}))""")


def test_paste_highlight_and_download(service, browser, tmp_path):
  context = browser.new_context(accept_downloads=True)
  page = context.new_page()
  outside = []
  page.on("request", lambda r: outside.append(r.url) if not (
      r.url.startswith(service) or r.url.startswith("blob:")) else None)
  page.goto(service + "/")
  page.wait_for_function(
      "document.getElementById('models').textContent.startsWith('Models')")
  assert page.text_content("#models") == (
      "Models: disease, relations, disease concepts")
  assert not page.is_visible("#key-row")  # no API key asked for
  page.fill("#text", ABSTRACT)
  page.click("#annotate")
  page.wait_for_selector("mark.entity")

  answer = json.loads(_post(service + "/annotate",
                            json.dumps({"text": ABSTRACT}).encode()))
  annotations = answer["documents"][0]["annotations"]
  marks = _marks(page)
  assert [(m["id"], m["type"], m["offset"], m["length"], m["text"])
          for m in marks] == [
              (a["id"], a["type"], a["offset"], a["length"], a["text"])
              for a in _shown(annotations)]
  for m in marks:  # the highlighted text is the text at the offsets
    assert ABSTRACT[m["offset"]:m["offset"] + m["length"]] == m["text"]
  assert [m["text"] for m in marks] == ["BRCA1", "breast cancer", "tamoxifen"]
  gene, disease, _ = marks
  assert gene["title"] == "Gene · score 0.9 · offset 9-14 · gene"
  assert gene["href"] is None
  assert disease["title"] == (
      "Disease · score 0.9 · offset 43-56 · disease\nMESH:D001943 Breast "
      "Neoplasms (concept score 0.75)")
  assert disease["href"] == (
      "https://meshb.nlm.nih.gov/record/ui?ui=D001943")
  # every entity is in the table, the overlapped "cancer" too
  rows = page.eval_on_selector_all(
      "tr.entity-row", "rows => rows.map(r => r.cells[2].textContent + '|' "
      "+ r.cells[5].textContent)")
  assert rows == ["BRCA1|", "breast cancer|MESH:D001943 Breast Neoplasms",
                  "cancer|(none)", "tamoxifen|"]
  assert page.eval_on_selector_all(
      "tr.relation-row", "rows => rows.map(r => Array.from(r.cells, "
      "c => c.textContent).join('|'))") == [
          "R1|Association|BRCA1 (T1)|breast cancer (T2)|0.8"]
  assert page.text_content("#status") == "1 document, 4 entities"

  name, saved = _download(page, "pubtator", tmp_path)
  assert name == "annotations.pubtator"
  assert saved.read_bytes() == _post(
      service + "/annotate?format=pubtator",
      json.dumps({"text": ABSTRACT}).encode())
  assert saved.read_text().splitlines()[2:4] == [
      "1\t9\t14\tBRCA1\tGene\t-", "1\t43\t56\tbreast cancer\tDisease\t"
      "D001943"]
  assert outside == []  # nothing but this service: no CDN
  context.close()


def test_upload_a_file_and_download_bioc(service, browser, tmp_path):
  context = browser.new_context(accept_downloads=True)
  page = context.new_page()
  page.goto(service + "/")
  page.set_input_files("#file", files=[{
      "name": "abstracts.pubtator", "mimeType": "text/plain",
      "buffer": PUBTATOR.encode()}])
  page.wait_for_selector("article.document[data-id='12']")
  assert page.text_content("#status") == "2 documents, 6 entities"
  marks = _marks(page)
  answer = json.loads(_post(service + "/annotate/file?filename=a.pubtator",
                            PUBTATOR.encode(), "application/octet-stream"))
  assert [(m["offset"], m["text"]) for m in marks] == [
      (a["offset"], a["text"]) for d in answer["documents"]
      for a in _shown(d["annotations"])]
  # offsets count from the document's start: the abstract's after the title
  assert [(m["offset"], m["text"]) for m in marks] == [
      (0, "BRCA1"), (10, "breast cancer"), (35, "breast cancer"),
      (54, "tamoxifen")]
  assert page.eval_on_selector_all(
      "article[data-id='11'] .passage h3", "h => h.map(x => x.textContent)"
  ) == ["title", "abstract"]
  name, saved = _download(page, "bioc_json", tmp_path)
  assert name == "abstracts.bioc.json"
  assert saved.read_bytes() == _post(
      service + "/annotate/file?filename=a.pubtator&format=bioc_json",
      PUBTATOR.encode(), "application/octet-stream")

  # a file that cannot be read: the error, and the last result kept
  page.set_input_files("#file", files=[{
      "name": "other.xml", "mimeType": "text/xml",
      "buffer": b"<html><body>not PubMed</body></html>"}])
  page.wait_for_selector("#status.error")
  assert page.text_content("#status") == (
      "other.xml: an XML file that is neither PubMed nor BioC; say "
      "input_format=")
  assert len(_marks(page)) == 4
  context.close()


def test_the_page_asks_for_the_api_key(browser):
  with _serving(app_lib.Limits(api_key="s3cret")) as base:
    page = browser.new_page()
    page.goto(base + "/")
    page.fill("#text", ABSTRACT)
    page.click("#annotate")
    page.wait_for_selector("#status.error")
    assert page.text_content("#status") == (
        "a valid X-API-Key header is required")
    assert page.is_visible("#key-row")
    page.fill("#apikey", "s3cret")
    page.click("#annotate")
    page.wait_for_selector("mark.entity")
    assert page.text_content("#status") == "1 document, 4 entities"
    page.close()
