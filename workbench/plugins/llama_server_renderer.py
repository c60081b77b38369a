"""The real ``llama-server --jinja`` as a chat-template renderer (:mod:`workbench.run.server_renderer`), for ``RENDERERS``."""

from workbench.run.server_renderer import LlamaServerRenderer

RENDERERS = {"llama-server": LlamaServerRenderer}
