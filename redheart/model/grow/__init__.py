"""Growing a trained model 4x, function-preserving (architecture.md §6).

layout: segments of a dimension and how they are tiled; rules: the per-parameter
rule table; hyperclone: config and state-dict growth; noise: paired symmetry-
breaking noise; identity_layers: new layers that start as identities; verify:
max |delta| of every output between the small and the grown model.
"""
