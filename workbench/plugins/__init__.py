"""Plugins: items a registry finds by looking, for registries of layers below the code that builds them.

Each module here may define dicts named after a registry's ``plugins`` (``ENGINES``,
``RENDERERS``): name -> a factory that makes the item. A registry imports these modules on
its first use (:mod:`workbench.registry`), the way tiktoken's registry finds ``tiktoken_ext``;
nothing else imports them. A module here may import any layer: plugins sit above them all.

- :mod:`.probe_engines`          the ``llama.cpp``, ``gigatoken`` and ``tiktoken`` pre-tokenizer engines
- :mod:`.llama_server_renderer`  the ``llama-server`` chat-template renderer (a real server from ``workbench.run``)
"""
