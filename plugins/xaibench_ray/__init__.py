"""Built-in ``ray`` executor: every stage a Ray task, on a local Ray or a cluster sharing the cache."""
