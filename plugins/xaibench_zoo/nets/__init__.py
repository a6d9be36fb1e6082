"""Plain-torch architectures of the zoo, all :class:`~xaibench_zoo.nets.base.SplittableNet` subclasses."""
