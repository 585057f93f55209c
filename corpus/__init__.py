"""tag_corpus.py's parts: readers, sentences, tagging, writers, shards."""
