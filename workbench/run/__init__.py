"""Running Kimi quants: offload, loading with tensor overrides, memory planning, streaming parse, local and remote chat.

This is the public API:

    >>> plan_memory("Kimi-K2-UD-Q2_K_XL-00001-of-00008.gguf", "experts-cpu", vram="24GiB", ram="256GiB").verdict  # doctest: +SKIP
    >>> model = load_model("artifacts/Kimi-K2-Tiny.gguf", preset("cpu-only"))          # doctest: +SKIP
    >>> LocalChat(model).reply([{"role": "user", "content": "Hi"}], mode="instant").answer   # doctest: +SKIP

- :mod:`.offload`  the guides' presets and llama.cpp's ``-ot`` / ``--n-cpu-moe`` as data
- :mod:`.planner`  bytes per device, verdict, recommendation, the llama-server command; ``compare`` for a grid
- :mod:`.quants`   every quant of a Hub repo for this machine, before the download
- :mod:`.compat`   the pre-load check against the installed llama.cpp
- :mod:`.loader`   load a GGUF under an offload, tensor overrides passed to llama.cpp (and proven by its log)
- :mod:`.stream`   split a streamed reply into reasoning, answer and tool calls
- :mod:`.chat`     sampling presets and local chat: template switch, streamed events, stop, cancel, tokens/s
- :mod:`.conversation` what a chat keeps, what fits the context (drop the oldest turns or stop), exports
- :mod:`.demo`     the demo model's sampling script: real words in Kimi's reply structure
- :mod:`.tools`    the tool loop: your callables declared, called with parsed arguments, results returned
- :mod:`.remote`   the same chat API against an OpenAI-compatible server
- :mod:`.conformance` ``server-check``: what a server does with thinking, tools and streaming
- :mod:`.vllm_server` real vLLM (CPU build) on loopback
- :mod:`.models`   the GGUFs on this machine, split sets grouped
- :mod:`.llama_server` the real ``llama-server``: built, found, run on loopback
- :mod:`.server_renderer` ``llama-server`` as a chat-template renderer (a plugin of ``workbench.chat``)
"""

from workbench.run.chat import MODES, LocalChat, Reply, Sampling
from workbench.run.chat import PRESETS as SAMPLING
from workbench.run.compat import check_compat
from workbench.run.conversation import ContextFull, Conversation
from workbench.run.llama_server import LlamaServer
from workbench.run.loader import LoadedModel, load_model
from workbench.run.models import ModelEntry, find_models
from workbench.run.offload import PRESETS as OFFLOADS
from workbench.run.offload import Offload, choose, custom, preset
from workbench.run.planner import MemoryPlan, PlanGrid, compare, plan_memory
from workbench.run.quants import Quant, QuantTable, quants
from workbench.run.remote import RemoteChat

__all__ = ["MODES", "OFFLOADS", "SAMPLING", "ContextFull", "Conversation", "LlamaServer", "LoadedModel", "LocalChat",
           "MemoryPlan", "ModelEntry", "Offload", "PlanGrid", "Quant", "QuantTable", "Reply", "RemoteChat", "Sampling",
           "check_compat", "choose", "compare", "custom", "find_models", "load_model", "plan_memory", "preset", "quants"]
