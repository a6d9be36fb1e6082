"""Earth-observation facts shared by the dataset plugins (``xaibench_synth``, ``xaibench_eodata``)
and the models and studies that read their data: sensor band tables, land-cover nomenclatures
and the capabilities such data provides.  A library, not a plugin: it registers nothing.
"""
