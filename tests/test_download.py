"""download.sh against fixture archives served from 127.0.0.1 (no internet)."""

import http.server
import io
import os
import tarfile
import threading

import pytest

import download
from tests.conftest import DATA
from tests.helpers import run_tool


class _Handler(http.server.BaseHTTPRequestHandler):
  """Serves `files`; honours Range; cuts the first transfer of `cut_once`."""

  files = {}
  cut_once = set()
  log = []
  ignore_range = False  # answer 206 but send from byte 0
  no_length = False  # send no Content-Length

  def do_GET(self):  # noqa: N802
    self.log.append((self.path, self.headers.get("Range")))
    data = self.files.get(self.path)
    if data is None:
      self.send_error(404)
      return
    start = 0
    rng = self.headers.get("Range")
    if rng and rng.startswith("bytes="):
      start = 0 if self.ignore_range else int(
          rng[len("bytes="):].split("-")[0])
      if start >= len(data):
        self.send_error(416)
        return
      self.send_response(206)
      self.send_header("Content-Range",
                       "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
    else:
      self.send_response(200)
    body = data[start:]
    if not self.no_length:
      self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    if self.path in self.cut_once:
      self.cut_once.discard(self.path)
      self.wfile.write(body[:len(body) // 2])
      self.wfile.flush()
      self.close_connection = True
      return
    self.wfile.write(body)

  def log_message(self, *args):
    pass


@pytest.fixture
def server():
  _Handler.files = {}
  _Handler.cut_once = set()
  _Handler.log = []
  _Handler.ignore_range = False
  _Handler.no_length = False
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield _Handler, "http://127.0.0.1:%d/base" % httpd.server_address[1]
  httpd.shutdown()


def _tar(entries):
  """A .tar.gz in memory from (name, bytes | ('symlink', target))."""
  buf = io.BytesIO()
  with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    for name, content in entries:
      info = tarfile.TarInfo(name)
      if isinstance(content, tuple):
        info.type = (tarfile.SYMTYPE if content[0] == "symlink" else
                     tarfile.LNKTYPE)
        info.linkname = content[1]
        tar.addfile(info)
      else:
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
  return buf.getvalue()


def _dataset_archive(modify=None):
  entries = []
  for name in sorted(download.read_manifest()):
    with open(os.path.join(DATA, name), "rb") as f:
      content = f.read()
    if name == modify:
      content += b"tampered\n"
    entries.append(("datasets/" + name, content))
  entries.append(("datasets/QA/BioASQ/README", b"not in the manifest\n"))
  return _tar(entries)


def test_manifest_matches_shared_data():
  manifest = download.read_manifest()
  assert len(manifest) == 72
  assert "NER/NCBI-disease/test.tsv" in manifest
  assert download.verify(DATA, manifest) == []


def test_fresh_download_then_skip(server, tmp_path):
  handler, base = server
  handler.files["/base/datasets.tar.gz"] = _dataset_archive()
  env = {"BIOBERT_BASE_URL": base, "BIOBERT_DATA": str(tmp_path / "datasets")}
  result = run_tool(["download.py"], env=env)
  assert "72 files verified" in result.stderr
  target = tmp_path / "datasets"
  assert (target / "NER" / "NCBI-disease" / "train_dev.tsv").read_bytes() == \
      open(os.path.join(DATA, "NER/NCBI-disease/train_dev.tsv"), "rb").read()
  assert (target / "RE" / "GAD" / "10" / "test.tsv").is_file()
  assert (target / "QA" / "BioASQ" / "README").is_file()
  assert sorted(os.listdir(str(tmp_path))) == ["datasets"]  # no leftovers
  assert handler.log == [("/base/datasets.tar.gz", None)]
  # Present and verified: skipped without a request.
  result = run_tool(["download.py"], env=env)
  assert "present and verified" in result.stderr
  assert len(handler.log) == 1


@pytest.fixture
def weights_archive(tiny_bert_dir):
  """A weight set archive with a real (tiny) model.ckpt-1000000."""

  def archive(name="biobert_v1.1_pubmed"):
    entries = []
    for f in sorted(os.listdir(tiny_bert_dir["dir"])):
      if f.endswith(".meta") or f == "checkpoint":
        continue
      with open(os.path.join(tiny_bert_dir["dir"], f), "rb") as fh:
        entries.append((name + "/" + f.replace("model.ckpt",
                                                "model.ckpt-1000000"),
                        fh.read()))
    return _tar(entries)

  return archive


def test_weights_resume_after_cut(server, tmp_path, weights_archive):
  handler, base = server
  path = "/base/biobert_v1.1_pubmed.tar.gz"
  handler.files[path] = weights_archive()
  handler.cut_once.add(path)
  env = {"BIOBERT_BASE_URL": base, "BIOBERT_WEIGHTS": str(tmp_path)}
  first = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"], env=env,
                   expect_ok=False)
  assert first.returncode == 1
  assert "run the same command again to resume" in first.stderr
  part = tmp_path / "biobert_v1.1_pubmed.tar.gz.part"
  have = part.stat().st_size
  assert 0 < have < len(handler.files[path])
  second = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"],
                    env=env)
  assert "resuming" in second.stderr
  # The second request asks only for the missing bytes.
  assert handler.log == [(path, None), (path, "bytes=%d-" % have)]
  target = tmp_path / "biobert_v1.1_pubmed"
  assert sorted(os.listdir(str(target))) == [
      "SHA256SUMS", "bert_config.json",
      "model.ckpt-1000000.data-00000-of-00001", "model.ckpt-1000000.index",
      "vocab.txt"]
  assert not part.exists()
  assert "--init_checkpoint=%s/model.ckpt-1000000" % target in second.stderr


def test_checksum_failure_installs_nothing(server, tmp_path):
  handler, base = server
  handler.files["/base/datasets.tar.gz"] = _dataset_archive(
      modify="NER/BC2GM/test.tsv")
  env = {"BIOBERT_BASE_URL": base, "BIOBERT_DATA": str(tmp_path / "datasets")}
  result = run_tool(["download.py"], env=env, expect_ok=False)
  assert result.returncode == 1
  assert "NER/BC2GM/test.tsv (checksum mismatch)" in result.stderr
  assert os.listdir(str(tmp_path)) == []  # no target, archive, temp dir


@pytest.mark.parametrize("entries,message", [
    ([("../evil.txt", b"x")], "refusing path with '..'"),
    ([("/tmp/evil.txt", b"x")], "refusing absolute path"),
    ([("biobert_v1.0_pmc/link", ("symlink", "/etc/passwd"))],
     "refusing link"),
    ([("biobert_v1.0_pmc/link", ("symlink", "../../outside"))],
     "refusing link"),
])
def test_path_escape_refused(server, tmp_path, entries, message):
  handler, base = server
  handler.files["/base/biobert_v1.0_pmc.tar.gz"] = _tar(entries)
  weights = tmp_path / "weights"
  env = {"BIOBERT_BASE_URL": base, "BIOBERT_WEIGHTS": str(weights)}
  result = run_tool(["download.py", "weights", "biobert_v1.0_pmc"], env=env,
                    expect_ok=False)
  assert result.returncode == 1
  assert message in result.stderr
  assert not (tmp_path / "evil.txt").exists()
  assert not (weights / "biobert_v1.0_pmc").exists()


def test_help_and_unknown_weights(tmp_path):
  result = run_tool(["download.py", "--help"])
  for name in download.WEIGHTS:
    assert name in result.stdout
  result = run_tool(["download.py", "weights", "biobert_v9"],
                    env={"BIOBERT_WEIGHTS": str(tmp_path)}, expect_ok=False)
  assert result.returncode == 1 and "unknown weight set" in result.stderr
  # download.sh is the documented entry point.
  import subprocess
  from tests.conftest import ROOT
  out = subprocess.run(["bash", os.path.join(ROOT, "download.sh"), "--help"],
                       capture_output=True, text=True)
  assert out.returncode == 0 and "weights NAME" in out.stdout


def test_link_chains_cannot_leave_the_target(server, tmp_path):
  handler, base = server
  victim = tmp_path / "victim.txt"
  victim.write_text("precious\n")
  chains = {
      # y -> ., then x -> y/.. (the parent), then x/ESCAPE.
      "sym": [("y", ("symlink", ".")), ("x", ("symlink", "y/..")),
              ("x/ESCAPE", b"out")],
      # A file written through a link that points outside.
      "through": [("d", ("symlink", ".")), ("d/e", ("symlink", "d/..")),
                  ("e/victim.txt", b"overwritten")],
      # A hard link whose target goes through the chain.
      "hard": [("y", ("symlink", ".")),
               ("h", ("hardlink", "y/../victim.txt")), ("h", b"overwritten")],
  }
  weights = tmp_path / "weights"
  for kind, entries in chains.items():
    handler.files["/base/biobert_v1.0_pmc.tar.gz"] = _tar(entries)
    result = run_tool(["download.py", "weights", "biobert_v1.0_pmc"],
                      env={"BIOBERT_BASE_URL": base,
                           "BIOBERT_WEIGHTS": str(weights)},
                      expect_ok=False)
    assert result.returncode == 1, kind
    assert "refusing" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ESCAPE").exists(), kind
    assert not (tmp_path.parent / "ESCAPE").exists(), kind
    assert victim.read_text() == "precious\n", kind
    assert not (weights / "biobert_v1.0_pmc").exists(), kind


def test_corrupted_weights_are_not_installed(server, tmp_path,
                                             weights_archive):
  handler, base = server
  path = "/base/biobert_v1.1_pubmed.tar.gz"
  good = weights_archive()
  env = {"BIOBERT_BASE_URL": base, "BIOBERT_WEIGHTS": str(tmp_path)}
  target = tmp_path / "biobert_v1.1_pubmed"
  for offset in (len(good) // 3, len(good) // 2, len(good) - 12):
    bad = bytearray(good)
    bad[offset] ^= 0x40
    handler.files[path] = bytes(bad)
    result = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"],
                      env=env, expect_ok=False)
    assert result.returncode == 1, offset
    assert "Traceback" not in result.stderr
    assert ("damaged" in result.stderr), result.stderr[-500:]
    assert not target.exists()
    assert os.listdir(str(tmp_path)) == []  # archive removed, no temp dir
  # The good archive installs; a byte changed later is found on the next run,
  # which downloads the set again.
  handler.files[path] = good
  run_tool(["download.py", "weights", "biobert_v1.1_pubmed"], env=env)
  data = target / "model.ckpt-1000000.data-00000-of-00001"
  raw = bytearray(data.read_bytes())
  raw[len(raw) // 2] ^= 1
  data.write_bytes(bytes(raw))
  again = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"], env=env)
  assert "changed since it was installed; downloading it again" in again.stderr
  skip = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"], env=env)
  assert "present and verified; skipping" in skip.stderr


def test_server_that_ignores_the_range(server, tmp_path, weights_archive):
  handler, base = server
  path = "/base/biobert_v1.1_pubmed.tar.gz"
  handler.files[path] = weights_archive()
  # A stale part file; the server answers 206 but from byte 0.
  (tmp_path / "biobert_v1.1_pubmed.tar.gz.part").write_bytes(b"stale")
  handler.ignore_range = True
  result = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"],
                    env={"BIOBERT_BASE_URL": base,
                         "BIOBERT_WEIGHTS": str(tmp_path)})
  assert "Traceback" not in result.stderr
  assert (tmp_path / "biobert_v1.1_pubmed" / "SHA256SUMS").is_file()


def test_cut_transfer_without_length(server, tmp_path, weights_archive):
  handler, base = server
  path = "/base/biobert_v1.1_pubmed.tar.gz"
  handler.files[path] = weights_archive()
  handler.cut_once.add(path)
  handler.no_length = True
  env = {"BIOBERT_BASE_URL": base, "BIOBERT_WEIGHTS": str(tmp_path)}
  first = run_tool(["download.py", "weights", "biobert_v1.1_pubmed"], env=env,
                   expect_ok=False)
  assert first.returncode == 1 and "Traceback" not in first.stderr
  assert "damaged or incomplete" in first.stderr
  run_tool(["download.py", "weights", "biobert_v1.1_pubmed"], env=env)
  assert (tmp_path / "biobert_v1.1_pubmed" / "SHA256SUMS").is_file()


OFFICIAL = os.path.join(DATA, "official")


def _official_mirror(tamper=None):
  """{URL path: bytes} of the official files as their public copies serve
  them (zips with their top folder, .gz), made from ../shared's copies."""
  import gzip
  import urllib.parse
  import zipfile
  manifest = download.read_manifest(download.OFFICIAL_MANIFEST)
  out = {}
  for folder, url, how, name in download.OFFICIAL:
    path = urllib.parse.urlparse(url).path
    if how == "unzip":
      buf = io.BytesIO()
      with zipfile.ZipFile(buf, "w") as z:
        for member in sorted(manifest):
          if member.startswith(folder + "/"):
            z.write(os.path.join(OFFICIAL, member),
                    name + member[len(folder) + 1:])
      out[path] = buf.getvalue()
      continue
    with open(os.path.join(OFFICIAL, folder, name), "rb") as f:
      data = f.read()
    if "%s/%s" % (folder, name) == tamper:
      data += b"tampered\n"
    out[path] = gzip.compress(data) if how == "gunzip" else data
  return out


def test_official_manifest_matches_shared_data():
  manifest = download.read_manifest(download.OFFICIAL_MANIFEST)
  assert len(manifest) == 935
  assert download.verify(OFFICIAL, manifest) == []
  # Every file the manifest names comes from one source of the table.
  sources = {f for f, _, _, _ in download.OFFICIAL}
  assert {n.split("/", 1)[0] for n in manifest} == sources


def test_official_releases_download_verify_and_skip(server, tmp_path):
  handler, base = server
  mirror = _official_mirror()
  handler.files = {"/base" + p: d for p, d in mirror.items()}
  env = {"BIOBERT_DATA": str(tmp_path / "datasets"),
         "BIOBERT_OFFICIAL_MIRROR": base}
  result = run_tool(["download.py", "official"], env=env)
  target = tmp_path / "datasets" / "official"
  manifest = download.read_manifest(download.OFFICIAL_MANIFEST)
  assert download.verify(str(target), manifest) == []
  assert "935 files verified" in result.stderr + result.stdout
  assert not [n for n in os.listdir(target) if n.startswith(".")]
  handler.log.clear()
  result = run_tool(["download.py", "official"], env=env)
  assert handler.log == []
  assert "present and verified (935 files); skipping" in (
      result.stderr + result.stdout)


def test_lexicons_alone(server, tmp_path):
  handler, base = server
  handler.files = {"/base" + p: d for p, d in _official_mirror().items()}
  env = {"BIOBERT_DATA": str(tmp_path / "datasets"),
         "BIOBERT_OFFICIAL_MIRROR": base}
  result = run_tool(["download.py", "lexicons"], env=env)
  target = tmp_path / "datasets" / "official"
  assert os.listdir(target) == ["lexicons"]
  assert sorted(os.listdir(target / "lexicons")) == ["CTD_MEDIC_2017",
                                                    "MEDIC"]
  assert "(lexicons; 3 files verified)" in result.stderr + result.stdout
  assert len(handler.log) == 3


def test_official_mismatch_installs_nothing(server, tmp_path):
  handler, base = server
  handler.files = {"/base" + p: d for p, d in _official_mirror(
      tamper="BioRED/Test.PubTator").items()}
  result = run_tool(["download.py", "official"], expect_ok=False, env={
      "BIOBERT_DATA": str(tmp_path / "datasets"),
      "BIOBERT_OFFICIAL_MIRROR": base})
  assert result.returncode == 1
  assert ("do not match official.sha256 (1 files: BioRED/Test.PubTator "
          "(checksum mismatch)); nothing was installed") in result.stderr
  assert os.listdir(tmp_path / "datasets" / "official") == []
