"""Built-in post-processors (identity, harmonization) and the kNN backends harmonization uses.

Registered through the ``xaibench`` entry-point group like any third party's plugin.
"""
