"""BioASQ question answering: SQuAD processing, BioASQ files, the tasks."""
