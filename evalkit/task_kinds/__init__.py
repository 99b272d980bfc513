"""Task kinds: the shared shapes benchmark plugins build on (multiple choice, code, YAML tasks)."""
