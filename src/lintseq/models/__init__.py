"""Finding a model on this machine: short names (`names`) and the GGUF conversion (`gguf`)."""
