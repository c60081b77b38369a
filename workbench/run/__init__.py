"""Running Kimi quants: offload, loading with tensor overrides, memory planning, streaming parse, local and remote chat.

- :mod:`.offload` the guides' presets and llama.cpp's ``-ot`` / ``--n-cpu-moe`` as data
- :mod:`.stream`  split a streamed reply into reasoning, answer and tool calls
- :mod:`.loader`  load a GGUF under an offload, tensor overrides passed to llama.cpp (and proven by its log)
- :mod:`.planner` bytes per device, verdict, recommendation, the llama-server command
- :mod:`.chat`    sampling presets and local chat: template switch, streamed events, stop, cancel, tokens/s
- :mod:`.remote`  the same chat API against an OpenAI-compatible server
"""
