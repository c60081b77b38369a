"""Running Kimi quants: offload presets and tensor overrides (more to come: planner, loader, chat).

- :mod:`.offload` the guides' presets and llama.cpp's ``-ot`` / ``--n-cpu-moe`` as data
"""
