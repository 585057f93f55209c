#!/usr/bin/env python3
"""Downloads the BioBERT benchmark datasets and pretrained weights.

    ./download.sh                      # datasets -> ./datasets (or $BIOBERT_DATA)
    ./download.sh weights NAME         # NAME.tar.gz -> ./NAME (or $BIOBERT_WEIGHTS/NAME)
    ./download.sh official             # official releases -> ./datasets/official
    ./download.sh --help

Transfers resume where a broken one stopped (a `.part` file and an HTTP
Range request); a target that is present and verified is skipped; the base
URL can be changed with $BIOBERT_BASE_URL (mirrors, tests). Archives are
read to the end (their checksum verified) and unpacked into a temporary
directory one member at a time: absolute paths, `..` and links that leave
the target (also through a chain of links already unpacked) are refused.
Dataset files are checked against datasets.sha256 (shipped with the
project); a weight set's checkpoint is read tensor by tensor, and the
SHA-256 of its files kept in SHA256SUMS, by which an installed set is
verified on the next run. Nothing is moved into place before these checks,
so a bad download never replaces or joins good files.
"""

import errno
import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
import urllib.error
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BASE_URL = "http://nlp.dmis.korea.edu/projects/biobert-2020-checkpoints"
MANIFEST = os.path.join(ROOT, "datasets.sha256")
WEIGHTS = ["biobert_v1.1_pubmed", "biobert_v1.0_pubmed", "biobert_v1.0_pmc",
           "biobert_v1.0_pubmed_pmc", "biobert_large_v1.1_pubmed"]
WEIGHT_FILES = ["vocab.txt", "bert_config.json", "model.ckpt-1000000.index"]
SUMS_NAME = "SHA256SUMS"
CHUNK = 1 << 16

OFFICIAL_MANIFEST = os.path.join(ROOT, "official.sha256")
_RAW = "https://raw.githubusercontent.com"
# The official releases the converters read (biocodes/convert_official.py),
# from public copies whose bytes were checked against a second one (the
# PROVENANCE.txt of each folder of ../shared/data/official): (folder under
# datasets/official, URL, "file" | "gunzip" | "unzip", the name it gets, or
# the top folder of the zip that is dropped).
OFFICIAL = [
    ("NCBI-disease", _RAW + "/spyysalo/ncbi-disease/5a266c6fc76fb2b5184cfa397f"
     "f0a5ecdb133aec/original-data/%s/%s" % (split, name), "file", name)
    for split, name in (("train", "NCBItrainset_corpus.txt"),
                        ("devel", "NCBIdevelopset_corpus.txt"),
                        ("test", "NCBItestset_corpus.txt"))] + [
    ("BC5CDR", _RAW + "/patverga/bran/32378da8ac339393d9faa2ff2d50ccb3b379e9a2"
     "/data/cdr/%s.gz" % name, "gunzip", name)
    for name in ("CDR_TrainingSet.PubTator.txt",
                 "CDR_DevelopmentSet.PubTator.txt",
                 "CDR_TestSet.PubTator.txt")] + [
    ("BioRED", _RAW + "/ndlongvn/BioRED-NER-RE/637e02c9746de045ef56dbf543d7760"
     "2783d63d9/RE%20BioRED/data/BioRED/" + name, "file", name)
    for name in ("Train.PubTator", "Dev.PubTator", "Test.PubTator")] + [
    ("ChemProt", _RAW + "/ChrisC1224/ChemProt/fb5bad792138ff6bafa486a2fb90a5b"
     "7c31269ac/%s/%s" % (folder, name), "file", "%s/%s" % (folder, name))
    for folder, names in (
        ("chemprot_training", ["chemprot_training_%s.tsv" % k for k in (
            "abstracts", "entities", "gold_standard", "relations")]),
        ("chemprot_development", ["chemprot_development_%s.tsv" % k for k in (
            "abstracts", "entities", "gold_standard", "relations")]),
        ("chemprot_test_gs", ["chemprot_test_%s.tsv" % k for k in (
            "abstracts_gs", "entities_gs", "gold_standard", "relations_gs")]))
    for name in names] + [
    ("DDI2013", _RAW + "/isegura/DDICorpus/819b0fa538ed83ab2a8b4f5417bba3c0324"
     "9b7f3/DDICorpus-2013.zip", "unzip", "DDICorpus/"),
    ("DrugProt", _RAW + "/oztasoi/biocreative-track-one/740ce9a4410bdd6dc9071"
     "ff9bf749bdce4dbbed0/competition/drugprot-gs-training-development.zip",
     "unzip", "drugprot-gs-training-development/"),
] + [
    # The lexicons of run_norm.py: CTD's MEDIC as BioSyn ships it (with its
    # spelling list), and CTD's disease vocabulary of June 2017.
    ("lexicons", _RAW + "/dmis-lab/BioSyn/c984e904e8c17bf9fa24e75c8bd80025efc"
     "43d6d/preprocess/resources/" + name, "file", "MEDIC/" + name)
    for name in ("medic_06Jul2012.txt", "ncbi-spell-check.txt")] + [
    ("lexicons", _RAW + "/isglobal-brge/CTDquerier/fcc1cfbf561961a40d7c1b7e8a"
     "6f6f61c15cd619/CTD_diseases.tsv.gz", "file",
     "CTD_MEDIC_2017/CTD_diseases.tsv.gz"),
]
LEXICONS = "lexicons"

USAGE = """usage: ./download.sh [datasets | weights NAME | official | lexicons | --help]

  (no argument), datasets
      the BioBERT benchmark datasets (2020 release, datasets.tar.gz) into
      $BIOBERT_DATA (default ./datasets): NER/<set>/, RE/<set>/<fold>/, QA/BioASQ/
  weights NAME
      pretrained weights NAME.tar.gz into $BIOBERT_WEIGHTS/NAME (default ./NAME),
      leaving vocab.txt, bert_config.json and model.ckpt-1000000.* there.
      NAME is one of:
        %s
  official
      the official releases of NCBI-disease, BC5CDR, BioRED, ChemProt, DDI 2013
      and DrugProt (training and development) into $BIOBERT_DATA/official/,
      checked against official.sha256, for biocodes/convert_official.py
      (and the lexicons below)
  lexicons
      the lexicons of run_norm.py only, into $BIOBERT_DATA/official/lexicons/:
      CTD's MEDIC of July 2012 with BioSyn's spelling list (MEDIC/), CTD's
      disease vocabulary of June 2017 (CTD_MEDIC_2017/), checked likewise

environment:
  BIOBERT_BASE_URL  where the archives are (default %s)
  BIOBERT_OFFICIAL_MIRROR  a server holding the official files under the
        same paths as their public copies (tests, offline mirrors)
  BIOBERT_DATA      datasets target directory
  BIOBERT_WEIGHTS   parent directory of weight sets
""" % ("\n        ".join(WEIGHTS), DEFAULT_BASE_URL)


class DownloadError(Exception):
  """A failed download, extraction or verification (exit 1)."""


def log(message):
  sys.stderr.write(message + "\n")
  sys.stderr.flush()


def fetch(url, dest):
  """Downloads `url` to `dest`, resuming `dest.part` if a previous try broke.

  Returns the path of the complete file.
  """
  part = dest + ".part"
  have = os.path.getsize(part) if os.path.exists(part) else 0
  request = urllib.request.Request(url)
  if have:
    request.add_header("Range", "bytes=%d-" % have)
  try:
    response = urllib.request.urlopen(request, timeout=60)
  except urllib.error.HTTPError as e:
    if e.code == 416 and have:  # the part is already complete
      os.replace(part, dest)
      return dest
    raise DownloadError("%s: HTTP %d %s" % (url, e.code, e.reason))
  except (urllib.error.URLError, OSError) as e:
    raise DownloadError("%s: %s" % (url, e))
  with response:
    mode = "wb"
    if response.status == 206:
      start = _range_start(response.headers.get("Content-Range"))
      if have and start == have:
        mode = "ab"
        log("resuming %s at byte %d" % (url, have))
      elif start != 0:
        raise DownloadError(
            "%s: the server answered with bytes from %s, not from %d as "
            "asked; delete %s and run the same command again" %
            (url, start, have, part))
    if mode == "wb":
      have = 0
    length = response.headers.get("Content-Length")
    expected = have + int(length) if length is not None else None
    done = have
    with open(part, mode) as f:
      while True:
        try:
          chunk = response.read(CHUNK)
        except (OSError, urllib.error.URLError) as e:
          raise DownloadError("%s: transfer broken at byte %d (%s); run the "
                              "same command again to resume" % (url, done, e))
        if not chunk:
          break
        f.write(chunk)
        done += len(chunk)
  if expected is not None and done < expected:
    raise DownloadError("%s: transfer broken at byte %d of %d; run the same "
                        "command again to resume" % (url, done, expected))
  os.replace(part, dest)
  return dest


def _range_start(content_range):
  """The first byte of a `Content-Range: bytes START-END/TOTAL`, or None."""
  try:
    return int(content_range.split()[1].split("-")[0])
  except (AttributeError, IndexError, ValueError):
    return None


def _inside(base, path):
  """Whether `path` (under `base`), links on disk followed, stays in `base`."""
  base = os.path.realpath(base)
  target = os.path.realpath(os.path.join(base, path))
  return target == base or target.startswith(base + os.sep)


def _check_member(archive, target, m):
  """Raises DownloadError if extracting `m` now would leave `target`.

  Checked one member at a time, after the members before it are on disk,
  so that a chain of links (y -> ., x -> y/.., then x/FILE) is followed as
  the file system will follow it.
  """
  name = m.name
  if os.path.isabs(name) or name.startswith(("/", "\\")):
    raise DownloadError("%s: refusing absolute path %r" % (archive, name))
  if ".." in name.replace("\\", "/").split("/"):
    raise DownloadError("%s: refusing path with '..': %r" % (archive, name))
  if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
    raise DownloadError("%s: refusing special file %r" % (archive, name))
  dest = os.path.join(target, name)
  if not _inside(target, os.path.dirname(name)) or (
      os.path.lexists(dest) and not _inside(target, name)):
    raise DownloadError("%s: refusing %r, which leaves the target" %
                        (archive, name))
  if os.path.islink(dest):
    raise DownloadError("%s: refusing %r, which would write through a link" %
                        (archive, name))
  if m.issym() or m.islnk():
    link_base = os.path.dirname(name) if m.issym() else ""
    if os.path.isabs(m.linkname) or not _inside(
        target, os.path.join(link_base, m.linkname)):
      raise DownloadError("%s: refusing link %r -> %r, which leaves the "
                          "target" % (archive, name, m.linkname))


def _check_compressed_stream(archive):
  """Reads a .gz archive to its end, so that its CRC is checked.

  (tarfile stops at the first header it cannot read without a word, so a
  damaged archive could otherwise unpack partly and silently.)
  """
  with open(archive, "rb") as f:
    if f.read(2) != b"\x1f\x8b":
      return
  with gzip.open(archive, "rb") as f:
    while f.read(CHUNK):
      pass


def safe_extract(archive, target):
  """Unpacks a tar archive into `target`, refusing anything that escapes it.

  A damaged or incomplete archive (a flipped byte, a cut transfer) is a
  DownloadError, and the archive is removed so that the next run fetches it
  again.
  """
  try:
    _check_compressed_stream(archive)
    with tarfile.open(archive) as tar:
      for m in tar:
        _check_member(archive, target, m)
        tar.extract(m, target, set_attrs=m.isfile() or m.isdir())
  except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
    os.remove(archive)
    raise DownloadError("%s is damaged or incomplete (%s); it was removed: "
                        "run the same command again to download it anew" %
                        (archive, e))


def read_manifest(path=MANIFEST):
  """{relative path: sha256} from a `sha256sum` file."""
  out = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.strip():
        digest, name = line.split(None, 1)
        out[name.strip().lstrip("*")] = digest
  return out


def sha256(path):
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(CHUNK), b""):
      h.update(chunk)
  return h.hexdigest()


def verify(root, manifest):
  """The manifest entries that are missing or differ under `root`."""
  bad = []
  for name, digest in sorted(manifest.items()):
    path = os.path.join(root, name)
    if not os.path.isfile(path):
      bad.append("%s (missing)" % name)
    elif sha256(path) != digest:
      bad.append("%s (checksum mismatch)" % name)
  return bad


def _single_top_dir(directory, name):
  """`directory/name` if the archive had that top folder, else `directory`."""
  entries = os.listdir(directory)
  if entries == [name] and os.path.isdir(os.path.join(directory, name)):
    return os.path.join(directory, name)
  return directory


def _move_contents(src, dst):
  os.makedirs(dst, exist_ok=True)
  for entry in os.listdir(src):
    target = os.path.join(dst, entry)
    if os.path.exists(target):
      shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
    shutil.move(os.path.join(src, entry), target)


def download_datasets(base_url, target, manifest_path=MANIFEST):
  """Datasets archive -> `target`, verified against the manifest."""
  manifest = read_manifest(manifest_path)
  if os.path.isdir(target) and not verify(target, manifest):
    log("%s is present and verified (%d files); skipping" %
        (target, len(manifest)))
    return target
  parent = os.path.dirname(os.path.abspath(target))
  os.makedirs(parent, exist_ok=True)
  archive = os.path.join(parent, "datasets.tar.gz")
  fetch(base_url.rstrip("/") + "/datasets.tar.gz", archive)
  work = tempfile.mkdtemp(prefix=".datasets.", dir=parent)
  try:
    safe_extract(archive, work)
    root = _single_top_dir(work, "datasets")
    bad = verify(root, manifest)
    if bad:
      os.remove(archive)
      raise DownloadError(
          "the downloaded datasets do not match datasets.sha256 (%d files: "
          "%s); nothing was installed and the archive was removed" %
          (len(bad), ", ".join(bad[:5])))
    _move_contents(root, target)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  if os.path.exists(archive):
    os.remove(archive)
  log("datasets installed in %s (%d files verified)" % (target, len(manifest)))
  return target


def weights_complete(directory):
  """Whether a weight set directory holds what the runners need."""
  if not all(os.path.isfile(os.path.join(directory, f))
             for f in WEIGHT_FILES):
    return False
  return any(f.startswith("model.ckpt-1000000.data-")
             for f in os.listdir(directory))


def check_checkpoint(directory):
  """None if every tensor of the weight set's checkpoint reads, else why not.

  TensorFlow checks each tensor's checksum as it reads it, so one flipped
  byte anywhere in the weights is found here rather than in fine-tuning.
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import tensorflow.compat.v1 as tf  # only needed here: imported late
  prefix = os.path.join(directory, "model.ckpt-1000000")
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in sorted(reader.get_variable_to_shape_map()):
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except
    # The reader raises OpError, ValueError, IndexError... on damage.
    return "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e)
                       else "unreadable")
  return None


def write_sums(directory):
  """Records the SHA-256 of every file of an installed weight set."""
  lines = ["%s  %s\n" % (sha256(os.path.join(directory, f)), f)
           for f in sorted(os.listdir(directory)) if f != SUMS_NAME]
  with open(os.path.join(directory, SUMS_NAME), "w") as f:
    f.write("".join(lines))


def weights_installed(directory):
  """Whether `directory` holds a complete, unchanged weight set.

  A set installed by this script carries SHA256SUMS and is compared with
  it; one installed otherwise is checked by reading its checkpoint, and its
  sums are recorded for next time.
  """
  if not os.path.isdir(directory) or not weights_complete(directory):
    return False
  sums = os.path.join(directory, SUMS_NAME)
  if os.path.isfile(sums):
    return not verify(directory, read_manifest(sums))
  if check_checkpoint(directory) is not None:
    return False
  write_sums(directory)
  return True


def download_weights(base_url, name, parent):
  """NAME.tar.gz -> parent/NAME with vocab, config and checkpoint."""
  if name not in WEIGHTS:
    raise DownloadError("unknown weight set %r; one of: %s" %
                        (name, ", ".join(WEIGHTS)))
  target = os.path.join(parent, name)
  if weights_installed(target):
    log("%s is present and verified; skipping" % target)
    return target
  if os.path.isdir(target):
    log("%s is incomplete or changed since it was installed; downloading "
        "it again" % target)
  os.makedirs(parent, exist_ok=True)
  archive = os.path.join(parent, name + ".tar.gz")
  fetch("%s/%s.tar.gz" % (base_url.rstrip("/"), name), archive)
  work = tempfile.mkdtemp(prefix="." + name + ".", dir=parent)
  try:
    safe_extract(archive, work)
    root = _single_top_dir(work, name)
    if not weights_complete(root):
      os.remove(archive)
      raise DownloadError(
          "%s.tar.gz lacks %s or model.ckpt-1000000.data-*; nothing was "
          "installed and the archive was removed" %
          (name, ", ".join(WEIGHT_FILES)))
    damage = check_checkpoint(root)
    if damage:
      os.remove(archive)
      raise DownloadError(
          "%s.tar.gz holds a damaged checkpoint (%s); nothing was installed "
          "and the archive was removed: run the same command again" %
          (name, damage))
    write_sums(root)
    _move_contents(root, target)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  if os.path.exists(archive):
    os.remove(archive)
  log("%s installed: --vocab_file=%s/vocab.txt --bert_config_file=%s/"
      "bert_config.json --init_checkpoint=%s/model.ckpt-1000000" %
      (name, target, target, target))
  return target


def _unzip(archive, prefix, target):
  """Unpacks the members of `archive` under `prefix`, without it, into
  `target`; a member that would leave `target` is refused."""
  with zipfile.ZipFile(archive) as z:
    for info in z.infolist():
      if info.is_dir() or not info.filename.startswith(prefix):
        continue
      name = info.filename[len(prefix):]
      if not _inside(target, name) or os.path.isabs(name):
        raise DownloadError("%s: member %s would leave the target folder"
                            % (archive, info.filename))
      dest = os.path.join(target, name)
      os.makedirs(os.path.dirname(dest), exist_ok=True)
      with z.open(info) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)


def download_official(target, mirror=None, manifest_path=OFFICIAL_MANIFEST,
                      only=None):
  """The official releases -> `target`, verified against the manifest; the
  folders already present and verified are skipped (`only`: that folder
  of OFFICIAL alone)."""
  manifest = read_manifest(manifest_path)
  if only:
    manifest = {n: d for n, d in manifest.items()
                if n.split("/", 1)[0] == only}
  folders = sorted({name.split("/", 1)[0] for name in manifest})
  missing = [f for f in folders if verify(target, {
      n: d for n, d in manifest.items() if n.startswith(f + "/")})]
  if not missing:
    log("%s is present and verified (%d files); skipping" %
        (target, len(manifest)))
    return target
  os.makedirs(target, exist_ok=True)
  work = tempfile.mkdtemp(prefix=".official.", dir=target)
  try:
    for folder, url, how, name in OFFICIAL:
      if folder not in missing:
        continue
      if mirror:
        url = mirror.rstrip("/") + urllib.parse.urlparse(url).path
      download = os.path.join(target, "." + os.path.basename(
          urllib.parse.unquote(urllib.parse.urlparse(url).path)))
      fetch(url, download)
      dest = os.path.join(work, folder)
      os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
      if how == "unzip":
        _unzip(download, name, dest)
      elif how == "gunzip":
        with gzip.open(download) as src, open(os.path.join(dest, name),
                                              "wb") as out:
          shutil.copyfileobj(src, out)
      else:
        shutil.copyfile(download, os.path.join(dest, name))
      os.remove(download)
    wanted = {n: d for n, d in manifest.items()
              if n.split("/", 1)[0] in missing}
    bad = verify(work, wanted)
    if bad:
      raise DownloadError(
          "the downloaded official files do not match official.sha256 (%d "
          "files: %s); nothing was installed" % (len(bad), ", ".join(
              bad[:5])))
    for folder in missing:
      _move_contents(os.path.join(work, folder), os.path.join(target,
                                                                folder))
  finally:
    shutil.rmtree(work, ignore_errors=True)
  log("official releases installed in %s (%s; %d files verified)" % (
      target, ", ".join(missing), len(manifest)))
  return target


def main(argv=None):
  args = list(sys.argv[1:] if argv is None else argv)
  base_url = os.environ.get("BIOBERT_BASE_URL", DEFAULT_BASE_URL)
  if args and args[0] in ("-h", "--help", "help"):
    sys.stdout.write(USAGE)
    return 0
  try:
    if not args or args == ["datasets"]:
      download_datasets(base_url, os.environ.get("BIOBERT_DATA", "datasets"))
    elif args == ["official"]:
      download_official(os.path.join(os.environ.get("BIOBERT_DATA",
                                                    "datasets"), "official"),
                        os.environ.get("BIOBERT_OFFICIAL_MIRROR"))
    elif args == [LEXICONS]:
      download_official(os.path.join(os.environ.get("BIOBERT_DATA",
                                                    "datasets"), "official"),
                        os.environ.get("BIOBERT_OFFICIAL_MIRROR"),
                        only=LEXICONS)
    elif len(args) == 2 and args[0] == "weights":
      download_weights(base_url, args[1],
                       os.environ.get("BIOBERT_WEIGHTS", "."))
    else:
      sys.stderr.write(USAGE)
      return 2
  except DownloadError as e:
    log("error: %s" % e)
    return 1
  except OSError as e:
    if e.errno == errno.ENOSPC:
      log("error: no space left on device%s: free some space and run the "
          "same command again (a broken transfer resumes)" %
          (" (writing %s)" % e.filename if e.filename else ""))
    else:
      log("error: %s%s" % (e.strerror or e, ": " + e.filename if e.filename
                           else ""))
    return 1
  except KeyboardInterrupt:
    log("interrupted: run the same command again to resume")
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())
