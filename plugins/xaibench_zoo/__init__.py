"""Built-in model zoo: UH-Net, VGG-16, ResNets (plain, aux-conditioned, multi-modal) and their shared trainer.

``plugin.py`` registers the components and imports nothing heavy; the torch code lives in
:mod:`xaibench_zoo.nets` and :mod:`xaibench_zoo.training`, imported when a model is built.
"""
