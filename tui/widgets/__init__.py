"""One panel per file: modules, memory, loss, run."""
